/**
 * The simulated network: messages wait in flight until due, and the simulator picks which due one
 * arrives next, so arrival order is random (reordering). Loss and duplication happen on send;
 * partitions (directed, so one-way ones too) and down receivers drop on arrival.
 */
import type { Message } from "../messages.ts";
import type { SeededRandom } from "../random.ts";

export interface InFlightMessage {
  message: Message;
  dueAt: number;
}

export interface NetworkFaults {
  lossRate: number;
  duplicateRate: number;
  /** Extra ticks a message may wait, drawn uniformly from [0, maxDelay]. */
  maxDelay: number;
}

export type SendOutcome = "sent" | "lost" | "duplicated";

export class SimNetwork {
  faults: NetworkFaults;
  private inFlight: InFlightMessage[] = [];
  /** Directed links that drop everything: from * 2^20 + to. */
  private readonly blocked = new Set<number>();
  private readonly random: SeededRandom;

  constructor(random: SeededRandom, faults: NetworkFaults) {
    this.random = random;
    this.faults = faults;
  }

  send(message: Message, now: number): SendOutcome {
    if (this.faults.lossRate > 0 && this.random.chance(this.faults.lossRate)) return "lost";
    this.enqueue(message, now);
    if (this.faults.duplicateRate > 0 && this.random.chance(this.faults.duplicateRate)) {
      this.enqueue(message, now);
      return "duplicated";
    }
    return "sent";
  }

  private enqueue(message: Message, now: number): void {
    const delay = this.faults.maxDelay > 0 ? this.random.nextInt(this.faults.maxDelay + 1) : 0;
    this.inFlight.push({ message, dueAt: now + delay });
  }

  /** Positions of the messages due at `now`, in queue order. */
  due(now: number): number[] {
    const positions: number[] = [];
    for (let i = 0; i < this.inFlight.length; i++) if (this.inFlight[i]!.dueAt <= now) positions.push(i);
    return positions;
  }

  hasDue(now: number): boolean {
    return this.inFlight.some((m) => m.dueAt <= now);
  }

  take(position: number): Message {
    const [taken] = this.inFlight.splice(position, 1);
    return taken!.message;
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked.has(from * 2 ** 20 + to);
  }

  block(from: number, to: number): void {
    this.blocked.add(from * 2 ** 20 + to);
  }

  heal(): void {
    this.blocked.clear();
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  get size(): number {
    return this.inFlight.length;
  }
}
