import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateResource } from "../schema/validate-resource.ts";
import { actorTemplate } from "../testing.ts";
import { ActorTemplateType } from "./actortemplate.ts";

const withEnv = (env: unknown[]) =>
  actorTemplate("t", { containers: [{ name: "m", image: "a@b", env }] });
const errorsOf = (env: unknown[]) => validateResource(ActorTemplateType, withEnv(env)).errors;

describe("ActorTemplate env valueFrom", () => {
  it("refuses an empty valueFrom as the API server refuses it (EnvVarSource MinProperties=1)", () => {
    assert.deepEqual(errorsOf([{ name: "X", valueFrom: {} }]), [
      "spec.containers[0].env[0].valueFrom: Invalid value: 0: spec.containers[0].env[0].valueFrom in body should have at least 1 properties",
    ]);
  });

  it("accepts a secretKeyRef, optional or not", () => {
    assert.deepEqual(
      errorsOf([
        { name: "X", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
        { name: "Y", valueFrom: { secretKeyRef: { name: "s", key: "k", optional: true } } },
      ]),
      [],
    );
  });

  it("refuses a source it does not know (strict decoding)", () => {
    const errors = errorsOf([
      { name: "X", valueFrom: { configMapKeyRef: { name: "c", key: "k" } } },
    ]);
    assert.equal(errors.length, 1);
    assert.match(
      errors[0] ?? "",
      /unknown field "spec\.containers\[0\]\.env\[0\]\.valueFrom\.configMapKeyRef"/,
    );
  });
});
