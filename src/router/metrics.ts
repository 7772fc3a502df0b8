/** A few Prometheus metrics, rendered in the text exposition format. */
export class RouterMetrics {
  readonly requests = new Map<string, number>();
  resumes = 0;
  queueDepth = 0;
  /** Whether the actor watch is live (routes trusted) or reconnecting (each request asks). */
  watchLive = false;
  private readonly buckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  private readonly resumeCounts = new Array<number>(this.buckets.length + 1).fill(0);
  private resumeSum = 0;

  /** `routes` reads how many routes are cached now. */
  constructor(private readonly routes: () => number = () => 0) {}

  request(outcome: string): void {
    this.requests.set(outcome, (this.requests.get(outcome) ?? 0) + 1);
  }

  /** Time from the first waiting request to the forward. */
  resumed(seconds: number): void {
    this.resumes++;
    this.resumeSum += seconds;
    const i = this.buckets.findIndex((b) => seconds <= b);
    this.resumeCounts[i === -1 ? this.buckets.length : i] =
      (this.resumeCounts[i === -1 ? this.buckets.length : i] ?? 0) + 1;
  }

  render(): string {
    const lines = [
      "# HELP ate_router_requests_total Requests by outcome.",
      "# TYPE ate_router_requests_total counter",
    ];
    for (const [outcome, n] of this.requests)
      lines.push(`ate_router_requests_total{outcome="${outcome}"} ${n}`);
    lines.push(
      "# HELP ate_router_resume_seconds Time from the first waiting request to the forward.",
      "# TYPE ate_router_resume_seconds histogram",
    );
    let cumulative = 0;
    this.buckets.forEach((b, i) => {
      cumulative += this.resumeCounts[i] ?? 0;
      lines.push(`ate_router_resume_seconds_bucket{le="${b}"} ${cumulative}`);
    });
    lines.push(
      `ate_router_resume_seconds_bucket{le="+Inf"} ${this.resumes}`,
      `ate_router_resume_seconds_sum ${this.resumeSum}`,
      `ate_router_resume_seconds_count ${this.resumes}`,
    );
    lines.push("# TYPE ate_router_queue_depth gauge", `ate_router_queue_depth ${this.queueDepth}`);
    lines.push("# TYPE ate_router_routes gauge", `ate_router_routes ${this.routes()}`);
    lines.push(
      "# HELP ate_router_watch_live 1 while the actor watch is live; 0: every request asks the control plane.",
      "# TYPE ate_router_watch_live gauge",
      `ate_router_watch_live ${this.watchLive ? 1 : 0}`,
    );
    return `${lines.join("\n")}\n`;
  }
}
