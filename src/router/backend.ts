import type { ActorStatus } from "../records/index.ts";

/** An actor as the router needs it. */
export interface RoutedActor {
  atespace: string;
  actorId: string;
  version: number;
  status: ActorStatus;
  templateNamespace: string;
  templateName: string;
  /** RUNNING and frozen (its sandbox paused): a request thaws it (ResumeActor) first. */
  frozen?: boolean;
  /** While it holds a worker. */
  worker?: {
    name: string;
    /** The worker's address (the actor's ports are there). */
    address: string;
    /** host:port of its node's actor entry point; absent: the address is reached directly. */
    entry?: string;
    /** The secret that entry point takes (Proxy-Authorization: Bearer): its node's entry token. */
    entryToken?: string;
  };
}

export type ActorChange =
  | { type: "put"; actor: RoutedActor }
  | { type: "deleted"; atespace: string; actorId: string };

/** What the router hears from the actor watch. */
export interface WatchHandler {
  /** The whole picture, after a (re)list: every actor, replacing all the router knew. */
  reset(actors: RoutedActor[]): void;
  /** One change, in commit order. */
  change(c: ActorChange): void;
  /**
   * The watch is live (every change reaches the router) or not (broken, reconnecting): while
   * it is not, the router asks the control plane before each forward.
   */
  live(on: boolean): void;
}

/** One actor in an activity report. */
export interface RouteActivity {
  atespace: string;
  actor: string;
  /** Requests and streams under way. */
  inFlight: number;
  /** Since its last request began or ended here; absent: none yet. */
  idleMs?: number;
  /** The version the router forwards by without asking (0: it asks first). */
  version: number;
  /** Requests waiting for a worker for it. */
  waiting: number;
}

export interface ActivityReport {
  routerId: string;
  sequence: number;
  actors: RouteActivity[];
  /** The router stops: the control plane forgets it. */
  final?: boolean;
}

/** What the router needs from the control plane. */
export interface RouterBackend {
  getActor(atespace: string, actor: string): Promise<RoutedActor>;
  /** Resumes the actor unless it runs; answers where it runs. */
  resumeActor(atespace: string, actor: string): Promise<RoutedActor>;
  /** The port the actor serves HTTP on (from its template). */
  actorPort(actor: RoutedActor): Promise<number>;
  /**
   * Follows every actor change until the signal aborts, reconnecting (with backoff) when the
   * watch breaks; resolves once stopped.
   */
  watch(handler: WatchHandler, signal: AbortSignal): Promise<void>;
  reportActivity(report: ActivityReport, signal?: AbortSignal): Promise<void>;
  /**
   * Whether the router may connect to a worker address directly, as it does for the workers
   * of a node without an entry point (`ate up`'s). Workers of nodes with one are reached only
   * through it.
   */
  directAllowed(address: string): boolean;
}

/** Annotation on an ActorTemplate: the port HTTP requests go to (default: the first readyz port, else 80). */
export const httpPortAnnotation = "ate.dev/http-port";
