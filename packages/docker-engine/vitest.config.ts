import { defineConfig } from "vitest/config";

// Unit tests only: what talks to a real engine is tested through the backends that use this package.
export default defineConfig({ test: {} });
