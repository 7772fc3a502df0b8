import type { ActorChange, RoutedActor, WatchHandler } from "./backend.ts";

/** The version of news that an actor is gone: newer than anything. */
const gone = Number.MAX_SAFE_INTEGER;

/** Statuses in which an actor holds a worker. */
const holding = new Set(["RESUMING", "RUNNING", "SUSPENDING", "PAUSING"]);

/**
 * What the router knows of actors from the watch: every actor that holds a worker (so a
 * request to a running actor needs no call), and the latest version seen of every actor (so
 * an older answer, e.g. a ResumeActor reply overtaken by the watch, is never routed by).
 * `changed` hears each actor whose state changed, with its new state (undefined: it holds no
 * worker or is gone).
 */
export class ActorView implements WatchHandler {
  private holders = new Map<string, RoutedActor>();
  private versions = new Map<string, number>();
  private readonly waiting = new Map<string, Set<() => void>>();
  private liveNow = false;

  constructor(
    private readonly on: {
      changed(key: string, actor: RoutedActor | undefined, version: number): void;
      live(on: boolean): void;
    },
  ) {}

  /** Every change reaches the router now. */
  get isLive(): boolean {
    return this.liveNow;
  }

  get(key: string): RoutedActor | undefined {
    return this.holders.get(key);
  }

  /** The latest version the watch showed (0: none, or it was deleted). */
  version(key: string): number {
    return this.versions.get(key) ?? 0;
  }

  reset(actors: RoutedActor[]): void {
    const before = this.holders;
    this.holders = new Map();
    this.versions = new Map();
    for (const a of actors) this.apply(a, false);
    for (const [key, a] of before) {
      const now = this.holders.get(key);
      if (!now || now.version !== a.version) this.notify(key, now, this.version(key) || gone);
    }
    for (const [key, a] of this.holders) if (!before.has(key)) this.notify(key, a, a.version);
  }

  change(c: ActorChange): void {
    if (c.type === "deleted") {
      const key = `${c.atespace}/${c.actorId}`;
      this.versions.delete(key); // a new actor of this name starts again at version 1
      if (this.holders.delete(key)) this.notify(key, undefined, gone);
      else this.wake(key);
      return;
    }
    this.apply(c.actor, true);
  }

  live(on: boolean): void {
    if (this.liveNow === on) return;
    this.liveNow = on;
    this.on.live(on);
    if (!on) for (const key of [...this.waiting.keys()]) this.wake(key);
  }

  /** Resolves at the next change of the actor, or after `ms`. */
  nextChange(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiting.get(key) ?? new Set();
      this.waiting.set(key, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (!set.size && this.waiting.get(key) === set) this.waiting.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  private apply(a: RoutedActor, notify: boolean): void {
    const key = `${a.atespace}/${a.actorId}`;
    if (a.version <= (this.versions.get(key) ?? 0)) return; // seen already (a replay)
    this.versions.set(key, a.version);
    const had = this.holders.has(key);
    if (holding.has(a.status) && a.worker) this.holders.set(key, a);
    else this.holders.delete(key);
    if (notify && (had || this.holders.has(key)))
      this.notify(key, this.holders.get(key), a.version);
    else if (notify) this.wake(key);
  }

  private notify(key: string, a: RoutedActor | undefined, version: number): void {
    this.on.changed(key, a, version);
    this.wake(key);
  }

  private wake(key: string): void {
    for (const f of [...(this.waiting.get(key) ?? [])]) f();
  }
}
