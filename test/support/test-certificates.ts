// A CA made here with openssl, and a certificate for 127.0.0.1 it signs: for tests of https on
// loopback (a client trusts it through the CA file, and refuses it without).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes ca.pem/ca.key and server.pem/server.key (for 127.0.0.1, one day) into dir. */
export function makeTestCertificates(dir: string): void {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    ...["req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.pem")],
    ...["-days", "1", "-subj", "/CN=ate test CA"],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
  );
  openssl(
    ...["req", ...ec, "-keyout", file("server.key"), "-out", file("server.csr")],
    ...["-subj", "/CN=127.0.0.1"],
  );
  writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  openssl(
    ...["x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem")],
    ...["-CAkey", file("ca.key"), "-CAcreateserial", "-out", file("server.pem")],
    ...["-days", "1", "-extfile", file("server.ext")],
  );
}
