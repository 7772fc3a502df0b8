// The atespaces of an ate server (the tenancy unit: a tenant token sees its own only).
import type { Atespace } from "../proto/gen/ateapi/control_pb.ts";
import type { CallOptions } from "./actors.ts";
import type { ControlClient } from "./control.ts";

export class Atespaces {
  constructor(private readonly control: () => Promise<ControlClient>) {}

  async create(name: string, o: CallOptions = {}): Promise<Atespace> {
    const { atespace } = await (await this.control()).createAtespace(
      { name },
      { signal: o.signal },
    );
    return atespace ?? { $typeName: "ateapi.Atespace", name };
  }

  async get(name: string, o: CallOptions = {}): Promise<Atespace> {
    const { atespace } = await (await this.control()).getAtespace({ name }, { signal: o.signal });
    return atespace ?? { $typeName: "ateapi.Atespace", name };
  }

  /** The atespaces the token may see: every one for an admin, its own for a tenant. */
  async list(o: CallOptions = {}): Promise<Atespace[]> {
    return (await (await this.control()).listAtespaces({}, { signal: o.signal })).atespaces;
  }

  /** Only an atespace without actors. */
  async delete(name: string, o: CallOptions = {}): Promise<void> {
    await (await this.control()).deleteAtespace({ name }, { signal: o.signal });
  }
}
