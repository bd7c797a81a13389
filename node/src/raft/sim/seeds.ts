/**
 * Runs a range of seeds for a test file and returns the failures, each with its replay command.
 * Split by cluster size so `node --test` can run the two halves on two cores.
 */
import { clusterSizeFor, runSimulation, SimulationFailure, type SimulationReport } from "./simulation.ts";

export interface SeedBatch {
  reports: SimulationReport[];
  failures: string[];
}

export function runSeeds(count: number, voters: 3 | 5): SeedBatch {
  const batch: SeedBatch = { reports: [], failures: [] };
  for (let seed = 1; batch.reports.length + batch.failures.length < count; seed++) {
    if (clusterSizeFor(seed) !== voters) continue;
    try {
      batch.reports.push(runSimulation({ seed }));
    } catch (err) {
      if (!(err instanceof SimulationFailure)) throw err;
      batch.failures.push(err.message);
    }
  }
  return batch;
}
