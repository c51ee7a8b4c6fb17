export { describeBackendConformance, type ConformanceOptions, type VitestApi } from "./conformance.js";
export { createTestContext, captureStdio, type CapturedStdio } from "./harness.js";
