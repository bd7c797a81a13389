/** The scenarios of the end-to-end suite, in the order e2e/run.ts runs them. */
import type { Scenario } from "../harness/scenario.ts";
import { steady } from "./s1-steady.ts";
import { leaderKill } from "./s2-leader-kill.ts";
import { followerKill } from "./s3-follower-kill.ts";
import { partition } from "./s4-partition.ts";
import { allKilled } from "./s5-all-killed.ts";
import { primaryChange } from "./s6-primary.ts";
import { wiped } from "./s7-wiped.ts";
import { diskFull } from "./s8-disk-full.ts";

export const scenarios: Scenario[] = [steady, leaderKill, followerKill, partition, allKilled, primaryChange, wiped, diskFull];
