/**
 * One circuit per receiver, in this instance's memory. After `failures` consecutive failed tries the
 * circuit opens: none of the receiver's events is leased (and none spends a try) until `cooldownMs`
 * have passed. Then it is half open: the next try decides, a success closing it, a failure opening it
 * again at once. A receiver that is down costs one try per cooldown, not one per event.
 */
export class CircuitBreakers {
  private readonly circuits = new Map<string, { failures: number; openUntil: number }>();

  constructor(private readonly failures: number, private readonly cooldownMs: number) {}

  /** Receivers whose circuit is open at `nowMs`. */
  open(nowMs: number): string[] {
    return [...this.circuits].filter(([, c]) => c.openUntil > nowMs).map(([receiver]) => receiver);
  }

  succeeded(receiver: string): void {
    this.circuits.delete(receiver);
  }

  failed(receiver: string, nowMs: number): void {
    const c = this.circuits.get(receiver) ?? { failures: 0, openUntil: 0 };
    c.failures++;
    if (c.failures >= this.failures) c.openUntil = nowMs + this.cooldownMs;
    this.circuits.set(receiver, c);
  }
}
