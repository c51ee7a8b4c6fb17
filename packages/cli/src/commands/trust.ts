import { BottleError, ErrorCodes } from "@claude-bottle/core";
import { ApprovalStore, approvalsNeeded, findProject, listAgents, planOf, resolveAgent, type Approval, type ApprovalRequest, type BottlePlan } from "@claude-bottle/core/host";
import { bottleSpecOf } from "../bottles/spec.js";
import { realpathSync } from "node:fs";
import { builtinAgents } from "../builtin-agents.js";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { formatTable } from "../render/table.js";
import { locateSelectedBackend, trustCommand } from "../select-backend.js";
import { pendingApprovals, requireApproval } from "../trust/approve.js";
import { formatPlan } from "../trust/plan-text.js";

export interface TrustOptions {
  yes: boolean;
  list: boolean;
  revoke: boolean;
  json: boolean;
}

/**
 * `trust [agents...]`: shows what this project's agents (all of them by
 * default) and a backend from the project would run, and approves it; --yes
 * approves without asking. `--list` shows every approval, `--revoke` removes
 * this project's (or the named agents').
 */
export async function trust(environment: CommandEnvironment, slugs: readonly string[], options: TrustOptions): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { context } = session;
    const store = ApprovalStore.forUser(context.env);
    if (options.list) {
      const approvals = await store.list();
      process.stdout.write(options.json ? `${JSON.stringify(approvals, null, 2)}\n` : listing(approvals, store.file));
      return ExitCodes.OK;
    }
    const search = { cwd: context.cwd, env: context.env, builtins: builtinAgents(), logger: context.logger };
    const project = await findProject(search);
    if (options.revoke) {
      const root = realpathSync(project?.root ?? context.cwd);
      const removed = await store.revoke(root, slugs.length ? slugs.map((s) => `agent:${s}`) : undefined);
      if (options.json) process.stdout.write(`${JSON.stringify(removed, null, 2)}\n`);
      else process.stdout.write(removed.length ? `Revoked ${removed.map((a) => a.subject).join(", ")} for ${root}.\n` : `Nothing was approved for ${root}${slugs.length ? ` under ${slugs.join(", ")}` : ""}.\n`);
      return ExitCodes.OK;
    }

    const located = await locateSelectedBackend(session);
    const names = slugs.length ? slugs : (await listAgents(search)).filter((a) => a.origin === "project").map((a) => a.slug);
    const reviews: { plan: BottlePlan | undefined; requests: ApprovalRequest[] }[] = [];
    // One invalid agent file does not hold back the others: each valid one is approved, the invalid ones are listed.
    const invalid: { slug: string; error: BottleError }[] = [];
    for (const slug of names) {
      try {
        // The spec a start would make (the hard limits checked on it); its plan is what a start shows and checks against.
        const spec = bottleSpecOf(await resolveAgent(slug, search), session.context.env);
        const plan = planOf(spec, located);
        reviews.push({ plan, requests: await approvalsNeeded(spec, plan, located) });
      } catch (error) {
        if (!BottleError.isInstance(error) || error.code === ErrorCodes.AGENT_NOT_FOUND) throw error;
        invalid.push({ slug, error });
      }
    }
    const finish = () => {
      if (!invalid.length) return ExitCodes.OK;
      throw new BottleError(
        ErrorCodes.AGENT_INVALID,
        `Not approved, since ${invalid.length === 1 ? "its file is" : "their files are"} invalid:\n${invalid.map(({ slug, error }) => `  ${slug}: ${error.message}`).join("\n")}`,
        { hint: invalid.length === 1 && invalid[0]!.error.hint ? invalid[0]!.error.hint : "Fix the files named above, then run claude-bottle trust again." },
      );
    };
    // A project backend needs approval even when no project agent does.
    if (!names.length) reviews.push({ plan: undefined, requests: await approvalsNeeded(undefined, undefined, located) });
    const requests = reviews.flatMap((r) => r.requests);
    if (!requests.length) {
      const valid = names.filter((slug) => !invalid.some((i) => i.slug === slug));
      if (valid.length || !invalid.length) {
        process.stdout.write(
          valid.length
            ? `Nothing to approve: ${valid.join(", ")} ${valid.length > 1 ? "are" : "is"} not from this project.\n`
            : "Nothing to approve: no agent or backend here comes from a project.\n",
        );
      }
      return finish();
    }
    const pending = await pendingApprovals(store, requests);
    if (!pending.length) {
      process.stdout.write(`Already approved: ${requests.map((r) => r.subject).join(", ")}.\n`);
      return finish();
    }
    if (options.yes) {
      for (const review of reviews) process.stderr.write(`\n${formatPlan(review.plan, review.requests)}`);
      await store.approve(pending.map(({ project, subject, digest }) => ({ project, subject, digest })));
    } else {
      const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
      if (!interactive) {
        for (const review of reviews) process.stderr.write(`\n${formatPlan(review.plan, review.requests)}`);
        throw new BottleError(ErrorCodes.APPROVAL_REQUIRED, "Approving needs a terminal to ask on, or --yes.", {
          hint: `Review the plan above, then: ${trustCommand(session.globals, slugs.join(" ") || undefined, true)}`,
        });
      }
      for (const review of reviews) {
        await requireApproval(review.plan, review.requests, {
          trustCommand: trustCommand(session.globals, review.plan?.agent.slug, true),
          interactive,
          env: context.env,
          stdin: process.stdin,
          stderr: process.stderr,
        });
      }
    }
    process.stdout.write(`Approved ${pending.map((r) => r.subject).join(", ")} for ${pending[0]!.project}.\n`);
    return finish();
  });
}

function listing(approvals: readonly Approval[], file: string): string {
  if (!approvals.length) return `No approvals (${file}).\n`;
  return formatTable(
    ["PROJECT", "APPROVED", "WHEN", "DIGEST"],
    approvals.map((a) => [a.project, a.subject, a.approvedAt, a.digest.slice(0, 19)]),
  );
}
