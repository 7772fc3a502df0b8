import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SandboxMount, WorkerRef } from "../driver.ts";
import { closeApiConnections } from "./api-drain.ts";
import { ApiGateway, type ApiGatewayOptions } from "./api-gateway.ts";
import { DnsRelay } from "./dns-relay.ts";
import { nodeResolvers, parseResolver } from "./dns-resolvers.ts";
import { HostEgress } from "./egress.ts";
import { checkEgressAllow, checkEgressDeny } from "./egress-cidr.ts";
import { innerGateway } from "./inner-network.ts";
import type { WorkerNetworks } from "./network.ts";

/** What a node's actors may reach besides the defaults (`ate up --dns/--egress-allow/--egress-deny`). */
export interface EgressOptions {
  /** DNS servers the workers' relays ask (default: the node's /etc/resolv.conf). */
  dns?: string[];
  /** IPv4 ranges reachable although private (never loopback, link-local or multicast). */
  allow?: string[];
  /** IPv4 ranges denied besides the private, link-local, loopback and multicast ones. */
  deny?: string[];
  /** A worker's DNS relay closes a TCP connection idle this long. Default 10 s. */
  dnsTcpIdleMs?: number;
  /** How often the node's rules are checked for having been removed by someone else. Default 5 s. */
  rulesCheckMs?: number;
  /**
   * The Control API that actors reach for themselves (at http://10.88.0.1, with their
   * /run/ate/token) through a gateway per worker (api-gateway.ts); absent: none. Workers with
   * egress `none` get none either.
   */
  controlApi?: ControlApiGateway;
}

export interface ControlApiGateway {
  /** The Control API's base URL as this node reaches it, e.g. `http://127.0.0.1:7443`. */
  url: string;
  /** The gateways' port on the node's side of each worker link. Default 7447. */
  port?: number;
  /** Bounds of each gateway (sizes, rate, time); see ApiGatewayOptions. */
  limits?: Omit<ApiGatewayOptions, "address" | "port" | "target">;
}

/** What a sandbox finds in /run/ate/api: its gateway's port 80. */
export const sandboxApiUrl = `http://${innerGateway}`;

/**
 * The relays of this process by address: a driver made again over the same workers (an agent
 * restarted within one process, as tests do) takes its workers' relays over.
 */
const relaysByAddress = new Map<string, Promise<DnsRelay>>();
/** The same for the Control API gateways. */
const gatewaysByAddress = new Map<string, Promise<ApiGateway>>();

/** The sandbox's resolver: its gateway, which its NAT namespace sends to the worker's relay. */
const sandboxResolvConf = "nameserver 10.88.0.1\n";

/**
 * A driver's egress: the node's host rules (installed with its first worker, removed with
 * its last) and one DNS relay per worker with default egress, for as long as the worker lives.
 */
export class WorkerEgress {
  private readonly host: HostEgress;
  private readonly relays = new Map<string, Promise<DnsRelay>>();
  private readonly gateways = new Map<string, Promise<ApiGateway>>();
  /** Whether this process installed the host rules since it last removed them. */
  private hostReady = false;
  /** While the host rules are in: checks that they still are (see watchHost). */
  private hostWatch: NodeJS.Timeout | undefined;
  private readonly resolvConfPath: string;

  constructor(
    private readonly networks: WorkerNetworks,
    stateDir: string,
    private readonly options: EgressOptions = {},
    runDir?: string,
  ) {
    for (const d of options.dns ?? []) parseResolver(d, "egress.dns");
    this.host = new HostEgress(
      {
        ...networks.range,
        allow: checkEgressAllow(options.allow ?? [], "egress.allow"),
        deny: checkEgressDeny(options.deny ?? [], "egress.deny"),
        ...(this.apiPort ? { apiPort: this.apiPort } : {}),
      },
      runDir ? { runDir } : {},
    );
    // The same file on every worker and node, so a sandbox restored anywhere still resolves.
    this.resolvConfPath = join(stateDir, "resolv.conf");
    writeFileSync(this.resolvConfPath, sandboxResolvConf, { mode: 0o644 });
  }

  /** The port of the workers' Control API gateways; undefined: none are served. */
  get apiPort(): number | undefined {
    return this.options.controlApi ? (this.options.controlApi.port ?? 7447) : undefined;
  }

  /** The mount every sandbox gets: /etc/resolv.conf naming its gateway. */
  get resolvConfMount(): SandboxMount {
    return { destination: "/etc/resolv.conf", source: this.resolvConfPath, readonly: true };
  }

  /**
   * Makes the worker's egress work: the host rules (checked again when `repair`, e.g. on
   * prepare and adopt; else once per process) and its DNS relay. Idempotent.
   */
  async open(worker: WorkerRef, repair = false): Promise<void> {
    if (repair || !this.hostReady) {
      await this.host.install();
      this.hostReady = true;
      this.watchHost();
    }
    if (worker.settings?.egress === "none") return;
    await this.openGateway(worker);
    if (this.relays.has(worker.name)) return;
    const address = this.networks.addresses(worker.index).host;
    const previous = relaysByAddress.get(address);
    const relay = (async () => {
      await previous?.then((r) => r.close()).catch(() => {});
      return DnsRelay.open({
        address,
        resolvers: nodeResolvers(this.options.dns),
        ...(this.options.dnsTcpIdleMs ? { tcpIdleMs: this.options.dnsTcpIdleMs } : {}),
      });
    })();
    this.relays.set(worker.name, relay);
    relaysByAddress.set(address, relay);
    relay.catch(() => {
      this.relays.delete(worker.name);
      if (relaysByAddress.get(address) === relay) relaysByAddress.delete(address);
    });
    await relay;
  }

  /** The worker's Control API gateway, when the node serves one; idempotent. */
  private async openGateway(worker: WorkerRef): Promise<void> {
    const api = this.options.controlApi;
    if (!api || this.gateways.has(worker.name)) return;
    const address = this.networks.addresses(worker.index).host;
    const previous = gatewaysByAddress.get(address);
    const gateway = (async () => {
      await previous?.then((g) => g.close()).catch(() => {});
      return ApiGateway.open({
        ...api.limits,
        address,
        port: this.apiPort as number,
        target: api.url,
      });
    })();
    this.gateways.set(worker.name, gateway);
    gatewaysByAddress.set(address, gateway);
    gateway.catch(() => {
      this.gateways.delete(worker.name);
      if (gatewaysByAddress.get(address) === gateway) gatewaysByAddress.delete(address);
    });
    await gateway;
  }

  /**
   * Before the worker's checkpoint: its sandbox's connections to its Control API gateway
   * closed and new ones refused until the drain's chain is emptied (see api-drain.ts).
   */
  async closeApiConnections(
    worker: WorkerRef,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const gateway = this.gateways.get(worker.name);
    if (!this.apiPort || worker.settings?.egress === "none") return;
    await closeApiConnections(
      this.networks.natNs(worker.index),
      this.apiPort,
      await gateway?.catch(() => undefined),
      deadline,
      signal,
    );
  }

  /** After the worker's link is gone: its relay closes, and the host rules go with the last. */
  async close(worker: WorkerRef): Promise<void> {
    // Its relay, and one an earlier driver in this process left on the same address.
    const address = this.networks.addresses(worker.index).host;
    const relays = new Set([this.relays.get(worker.name), relaysByAddress.get(address)]);
    this.relays.delete(worker.name);
    relaysByAddress.delete(address);
    for (const relay of relays) await relay?.then((r) => r.close()).catch(() => {});
    const gateways = new Set([this.gateways.get(worker.name), gatewaysByAddress.get(address)]);
    this.gateways.delete(worker.name);
    gatewaysByAddress.delete(address);
    for (const g of gateways) await g?.then((x) => x.close()).catch(() => {});
    if (await this.host.removeIfUnused()) {
      this.hostReady = false;
      clearInterval(this.hostWatch);
      this.hostWatch = undefined;
    }
  }

  /**
   * This process lets go of the workers, whose sandboxes keep running (an agent on the same
   * state takes them up again and opens their relays anew): the relays close, and the host
   * rules stay in place, no longer checked from here.
   */
  async detach(): Promise<void> {
    clearInterval(this.hostWatch);
    this.hostWatch = undefined;
    this.hostReady = false;
    const relays = [...this.relays.values()];
    this.relays.clear();
    for (const [address, relay] of relaysByAddress)
      if (relays.includes(relay)) relaysByAddress.delete(address);
    for (const relay of relays) await relay.then((r) => r.close()).catch(() => {});
    const gateways = [...this.gateways.values()];
    this.gateways.clear();
    for (const [address, g] of gatewaysByAddress)
      if (gateways.includes(g)) gatewaysByAddress.delete(address);
    for (const g of gateways) await g.then((x) => x.close()).catch(() => {});
  }

  /**
   * A firewall reload or `iptables -F` takes the node's rules away and its workers would reach
   * everything (the host included): they are checked every few seconds and put back.
   */
  private watchHost(): void {
    if (this.hostWatch) return;
    let busy = false;
    this.hostWatch = setInterval(() => {
      if (busy) return;
      busy = true;
      this.host
        .repairIfGone()
        .catch(() => false) // tried again at the next tick
        .finally(() => {
          busy = false;
        });
    }, this.options.rulesCheckMs ?? 5000);
  }
}
