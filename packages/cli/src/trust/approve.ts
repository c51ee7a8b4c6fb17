import { createInterface } from "node:readline";
import { BottleError, ErrorCodes } from "@claude-bottle/core";
import { ApprovalStore, type ApprovalRequest, type BottlePlan } from "@claude-bottle/core/host";
import { printableLine } from "../render/printable.js";
import { formatPlan } from "./plan-text.js";

export interface ApprovalPrompt {
  /** The command that approves this without asking, for the hint of a run that cannot ask. */
  trustCommand: string;
  /** Ask on the terminal (stdin and stderr are terminals); otherwise refuse with the hint. */
  interactive: boolean;
  env: Readonly<Record<string, string | undefined>>;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

/** The requests not yet approved, with what each was approved as before (to say "changed"). */
export async function pendingApprovals(store: ApprovalStore, requests: readonly ApprovalRequest[]): Promise<ApprovalRequest[]> {
  if (!requests.length) return [];
  // One read of the store for every request.
  const approved = await store.list();
  return requests.filter((r) => !approved.some((a) => a.project === r.project && a.subject === r.subject && a.digest === r.digest));
}

/**
 * Makes sure the user approved what the project decides before it takes
 * effect: shows the plan, asks once on a terminal (only "yes" approves), and
 * records the digest. Without a terminal nothing runs: the error's hint is the
 * exact command that approves it.
 */
export async function requireApproval(plan: BottlePlan | undefined, requests: readonly ApprovalRequest[], prompt: ApprovalPrompt): Promise<void> {
  const store = ApprovalStore.forUser(prompt.env);
  const pending = await pendingApprovals(store, requests);
  if (!pending.length) return;
  const earlier = await store.list();
  const changed = pending.filter((r) => earlier.some((a) => a.project === r.project && a.subject === r.subject));
  prompt.stderr.write(
    `\nclaude-bottle: ${changed.length ? "this project's configuration CHANGED since you approved it" : "this project's configuration decides what runs"}; review it before it takes effect:\n\n`,
  );
  prompt.stderr.write(formatPlan(plan, requests));
  if (!prompt.interactive) {
    throw new BottleError(ErrorCodes.APPROVAL_REQUIRED, `${describe(pending)} ${changed.length ? "changed since it was approved" : "has not been approved"}; nothing was run.`, {
      hint: `Review the plan above, then approve it with: ${prompt.trustCommand}`,
    });
  }
  const answer = await ask(prompt, `\nApprove and run? Type "yes" to approve, anything else cancels: `);
  if (answer.trim().toLowerCase() !== "yes") {
    throw new BottleError(ErrorCodes.APPROVAL_REQUIRED, `Not approved; nothing was run.`, {
      hint: `Approve it later with: ${prompt.trustCommand}`,
    });
  }
  await store.approve(pending.map(({ project, subject, digest }) => ({ project, subject, digest })));
}

function describe(pending: readonly ApprovalRequest[]): string {
  return pending
    .map((r) => {
      const [kind, name] = r.subject.split(/:(.*)/s);
      return kind === "agent" ? `The project agent "${printableLine(name!)}"` : `The project backend ${printableLine(name!)}`;
    })
    .join(" and ");
}

function ask(prompt: ApprovalPrompt, question: string): Promise<string> {
  const reader = createInterface({ input: prompt.stdin, output: prompt.stderr, terminal: false });
  prompt.stderr.write(question);
  return new Promise((resolve) => {
    let answered = false;
    reader.once("line", (line) => {
      answered = true;
      reader.close();
      resolve(line);
    });
    reader.once("close", () => {
      if (!answered) resolve("");
    });
  }).finally(() => prompt.stdin.pause()) as Promise<string>;
}
