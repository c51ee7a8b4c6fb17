export { describeBackendConformance, type ConformanceOptions, type VitestApi } from "./conformance.js";
export { bottleErrorOf, captureStdio, createTestContext, expectBottleError, type CapturedStdio, type TestContext } from "./harness.js";
export { testSpec } from "./spec.js";
