// 250 simulated runs of 5-voter clusters (the even seeds from 1); the other half runs in
// seeds-3-voters.test.ts.
import { seedSuite } from "./seed-suite.ts";

seedSuite(5);
