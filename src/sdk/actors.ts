// The actors of an ate server: the Control API's actor calls, typed, and a handle per actor
// that also reaches it over HTTP (through the router) and reads its output.
import type { Actor } from "../proto/gen/ateapi/control_pb.ts";
import { fetchActor } from "./actor-fetch.ts";
import type { ControlClient } from "./control.ts";
import { actorLogs, type LogsOptions } from "./logs.ts";
import type { Endpoints } from "./options.ts";

/** Every call takes a signal: aborted, the call fails with AteError Canceled. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Which atespace a call works in: default the client's (connect's `atespace`). */
export interface InAtespace extends CallOptions {
  atespace?: string;
}

export interface CreateActorOptions extends InAtespace {
  /** The actor's template: "namespace/name", or "name" in namespace default. */
  template: string;
  /** Only workers with these labels run it. */
  workerSelector?: Record<string, string>;
  /** Start it (at its first resume) from this snapshot tag: "atespace/name" (a fork). */
  fromTag?: string;
}

export interface ListActorsOptions extends InAtespace {
  /** Every atespace the token may see (atespace is ignored then). */
  all?: boolean;
}

export interface ResumeOptions extends InAtespace {
  /** Cold boot, skipping the template's golden snapshot. */
  boot?: boolean;
}

/** "atespace/name"; the server checks each part (INVALID_ARGUMENT naming source_tag). */
function tagRef(s: string): { atespace: string; name: string } {
  const i = s.indexOf("/");
  return i < 0 ? { atespace: "", name: s } : { atespace: s.slice(0, i), name: s.slice(i + 1) };
}

/** The Control API's actor calls; each answers the actor as it is after the call. */
export class Actors {
  constructor(
    private readonly control: () => Promise<ControlClient>,
    private readonly ep: Endpoints,
  ) {}

  private ref(name: string, o: InAtespace = {}) {
    return { actorRef: { atespace: o.atespace ?? this.ep.atespace, name } };
  }

  async create(name: string, o: CreateActorOptions): Promise<Actor> {
    const [ns, template] = o.template.includes("/")
      ? (o.template.split("/", 2) as [string, string])
      : ["default", o.template];
    const { actor } = await (await this.control()).createActor(
      {
        ...this.ref(name, o),
        actorTemplateNamespace: ns,
        actorTemplateName: template,
        ...(o.workerSelector ? { workerSelector: { matchLabels: o.workerSelector } } : {}),
        ...(o.fromTag ? { sourceTag: tagRef(o.fromTag) } : {}),
      },
      { signal: o.signal },
    );
    return must(actor);
  }

  async get(name: string, o: InAtespace = {}): Promise<Actor> {
    const { actor } = await (await this.control()).getActor(this.ref(name, o), {
      signal: o.signal,
    });
    return must(actor);
  }

  /** Every actor of the atespace (or, with `all`, of every atespace), page after page. */
  async list(o: ListActorsOptions = {}): Promise<Actor[]> {
    const control = await this.control();
    const atespace = o.all ? "" : (o.atespace ?? this.ep.atespace);
    const out: Actor[] = [];
    let pageToken = "";
    do {
      const page = await control.listActors({ atespace, pageToken }, { signal: o.signal });
      out.push(...page.actors);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out;
  }

  async resume(name: string, o: ResumeOptions = {}): Promise<Actor> {
    const { actor } = await (await this.control()).resumeActor(
      { ...this.ref(name, o), boot: o.boot ?? false },
      { signal: o.signal },
    );
    return must(actor);
  }

  /** Checkpoints the actor and frees its worker; the next request resumes it. */
  async suspend(name: string, o: InAtespace = {}): Promise<Actor> {
    const { actor } = await (await this.control()).suspendActor(this.ref(name, o), {
      signal: o.signal,
    });
    return must(actor);
  }

  /** Stops the actor's sandbox without a checkpoint; it resumes from its last snapshot. */
  async pause(name: string, o: InAtespace = {}): Promise<Actor> {
    const { actor } = await (await this.control()).pauseActor(this.ref(name, o), {
      signal: o.signal,
    });
    return must(actor);
  }

  async delete(name: string, o: InAtespace = {}): Promise<void> {
    await (await this.control()).deleteActor(this.ref(name, o), { signal: o.signal });
  }

  /** A handle on one actor: the calls above without repeating its name, fetch and logs. */
  handle(name: string, atespace = this.ep.atespace): ActorHandle {
    return new ActorHandle(this, this.ep, name, atespace);
  }
}

/** One actor, by name: it need not exist yet (create() makes it). */
export class ActorHandle {
  constructor(
    private readonly actors: Actors,
    private readonly ep: Endpoints,
    readonly name: string,
    readonly atespace: string,
  ) {}

  private at<O extends CallOptions>(o: O | undefined): O & { atespace: string } {
    return { ...(o ?? ({} as O)), atespace: this.atespace };
  }

  create(o: Omit<CreateActorOptions, "atespace">): Promise<Actor> {
    return this.actors.create(this.name, this.at(o));
  }
  get(o?: CallOptions): Promise<Actor> {
    return this.actors.get(this.name, this.at(o));
  }
  resume(o?: Omit<ResumeOptions, "atespace">): Promise<Actor> {
    return this.actors.resume(this.name, this.at(o));
  }
  suspend(o?: CallOptions): Promise<Actor> {
    return this.actors.suspend(this.name, this.at(o));
  }
  pause(o?: CallOptions): Promise<Actor> {
    return this.actors.pause(this.name, this.at(o));
  }
  delete(o?: CallOptions): Promise<void> {
    return this.actors.delete(this.name, this.at(o));
  }

  /**
   * HTTP to the actor through the router, as fetch(): `path` is the actor's own (with its
   * query), e.g. "/count?x=1". A suspended actor is resumed on the request by the router.
   */
  fetch(path: string, init?: RequestInit): Promise<Response> {
    return fetchActor(this.ep, this.atespace, this.name, path, init);
  }

  /** The actor's output (stdout and stderr), as text chunks: `for await (const t of …)`. */
  logs(o?: LogsOptions): AsyncGenerator<string, void, undefined> {
    return actorLogs(this.ep, this.atespace, this.name, o);
  }
}

/** The actor an answer carries (a server always sends it). */
function must(actor: Actor | undefined): Actor {
  if (!actor) throw new Error("the server's answer carries no actor");
  return actor;
}
