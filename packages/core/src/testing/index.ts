export { describeBackendConformance, type ConformanceOptions, type VitestApi } from "./conformance.js";
export { bottleErrorOf, captureStdio, createTestContext, type CapturedStdio } from "./harness.js";
