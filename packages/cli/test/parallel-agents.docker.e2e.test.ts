import { describeParallelAgents } from "./support/parallel-suite.js";

describeParallelAgents({ backend: "docker", filesReadOnly: true, attachedListed: true });
