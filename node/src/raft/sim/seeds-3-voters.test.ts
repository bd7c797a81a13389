// 250 simulated runs of 3-voter clusters (the odd seeds from 1); the other half runs in
// seeds-5-voters.test.ts.
import { seedSuite } from "./seed-suite.ts";

seedSuite(3);
