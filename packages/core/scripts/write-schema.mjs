// Regenerates agent.schema.json from the zod schema in the built package.
// A test compares the committed file with this output, so they never drift.
import { writeFileSync } from "node:fs";
import { agentJsonSchema } from "../dist/index.js";

const target = new URL("../agent.schema.json", import.meta.url);
writeFileSync(target, `${JSON.stringify(agentJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
