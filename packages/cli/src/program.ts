import { Argument, Command, Option } from "commander";
import type { CommandEnvironment, GlobalOptions } from "./context.js";
import type { TimingFormat } from "./render/timing.js";
import { cliVersion } from "./version.js";

/** Where an action leaves the code the process exits with. */
export interface Outcome {
  exitCode: number;
}

const PROGRAM_HELP_FOOTER = `
Exit codes:
  the agent's own   start, attach and exec pass the bottle's exit code through
  1                 doctor found a missing prerequisite; wait --for waiting saw the bottle end first;
                    merge stopped on a conflict
  2                 usage error (unknown command or option, missing argument)
  124               wait --timeout passed first
  125               claude-bottle failed (agent file, backend, Docker, build...),
                    the bottle is running (rm without --force) or not running
                    (attach, exec), or project configuration awaits approval
                    (see: claude-bottle trust)
  130               interrupted (Ctrl-C or SIGTERM)

Environment:
  CLAUDE_BOTTLE_BACKEND   the backend when --backend is not given (default: docker)
  XDG_CONFIG_HOME         user agents live in $XDG_CONFIG_HOME/claude-bottle/agents
  XDG_CACHE_HOME          the cache lives in $XDG_CACHE_HOME/claude-bottle
  XDG_STATE_HOME          approvals (and logins without a keychain) live in $XDG_STATE_HOME/claude-bottle
  XDG_DATA_HOME           worktrees and bottle status live in $XDG_DATA_HOME/claude-bottle (default ~/.local/share)
  CLAUDE_BOTTLE_CREDENTIAL_STORE  file or keychain: where login keeps credentials (default: the keychain where there is one)
  CI                      when set, progress is plain lines instead of a spinner
`;

/**
 * The command-line grammar. Each action imports its command module only when
 * it runs, so `--help` and a typo never pay for Docker clients or YAML parsers.
 */
export function buildProgram(signal: AbortSignal, outcome: Outcome): Command {
  const environment = (command: Command): CommandEnvironment => ({
    globals: command.optsWithGlobals<GlobalOptions>(),
    signal,
  });

  const program = new Command("claude-bottle")
    .description("Run a coding agent in an isolated bottle: a Docker container or a microVM.")
    .version(cliVersion(), "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .option("--debug", "show stack traces, debug messages and full build output")
    .option("--backend <name>", "the backend to use (default: $CLAUDE_BOTTLE_BACKEND, else docker)")
    .addHelpText("after", PROGRAM_HELP_FOOTER)
    .exitOverride();

  program
    .command("start")
    .description("start an agent in a new bottle; attached until it exits, or --detach")
    .usage("[options] <agent> [-- args...]")
    .argument("<agent>", "the agent's name (see: claude-bottle agents)")
    .argument("[args...]", "appended to the agent's command; put them after --")
    .option("-d, --detach", "leave the bottle running in the background and print its name")
    .option("--allow-host <host>", "let the bottle reach this host too, on this run (repeatable; *.domain and :port work)", collect, [])
    .option("--publish <port>", "serve the bottle's PORT (or HOST:BOTTLE) on your 127.0.0.1 and [::1] only (repeatable)", collect, [])
    .option("--host-service <port>", "let the bottle reach this port of your machine's loopback at host.claude-bottle.internal (repeatable)", collect, [])
    .option("--worktree [branch]", "run in a git worktree of its own, on a new branch (default: named after the bottle)")
    .option("--github", "let it push and use gh: GH_TOKEN/GITHUB_TOKEN bound to github.com and api.github.com (see: login github)")
    .addOption(new Option("--isolation <isolation>", "the boundary below the container, on this run: gvisor (a user-space kernel) or runc (the host's kernel)").choices(["gvisor", "runc"]))
    .addOption(
      new Option("--timing [format]", "print how long each phase took to stderr; --timing=json for JSON").choices([
        "table",
        "json",
      ]),
    )
    .action(async (agent: string, args: string[], options: { detach?: boolean; timing?: TimingFormat; allowHost: string[]; publish: string[]; hostService: string[]; worktree?: string | true; github?: boolean; isolation?: "gvisor" | "runc" }, command: Command) => {
      const { start } = await import("./commands/start.js");
      outcome.exitCode = await start(environment(command), agent, args, {
        detach: options.detach === true,
        timing: options.timing,
        allowHosts: options.allowHost,
        publish: options.publish,
        hostServices: options.hostService,
        worktree: options.worktree === "" ? true : options.worktree,
        github: options.github === true,
        ...(options.isolation && { isolation: options.isolation }),
      });
    });

  program
    .command("login")
    .description("keep an agent's credentials on this machine (keychain, else a 0600 file), for every project's bottles")
    .argument("[agent]", "the agent (default: claude), or github for the token of start --github", "claude")
    .option("--api-key", "claude: store an Anthropic API key read from stdin, instead of Claude Code's own login flow")
    .action(async (agent: string, options: { apiKey?: boolean }, command: Command) => {
      const { login } = await import("./commands/login.js");
      outcome.exitCode = await login(environment(command), agent, { apiKey: options.apiKey === true });
    });

  program
    .command("logout")
    .description("remove the credentials login stored (of one agent, or all)")
    .argument("[agent]", "the agent whose credentials to remove (default: all)")
    .action(async (agent: string | undefined, _options: object, command: Command) => {
      const { logout } = await import("./commands/login.js");
      outcome.exitCode = await logout(environment(command), agent);
    });

  program
    .command("agents")
    .description("list the agents this directory can start, and where each comes from")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const { agents } = await import("./commands/agents.js");
      outcome.exitCode = await agents(environment(command), { json: options.json === true });
    });

  program
    .command("trust")
    .description("review and approve what this project's agent files and backend would run (asked for by start)")
    .usage("[options] [agents...]")
    .argument("[agents...]", "the project's agents to review (default: all of them)")
    .option("-y, --yes", "approve without asking (for scripts); the plan is still printed")
    .option("--list", "list every approval, in every project")
    .option("--revoke", "remove this project's approvals (or the named agents'); the next start asks again")
    .option("--json", "print JSON (with --list or --revoke)")
    .action(async (agents: string[], options: { yes?: boolean; list?: boolean; revoke?: boolean; json?: boolean }, command: Command) => {
      const { trust } = await import("./commands/trust.js");
      outcome.exitCode = await trust(environment(command), agents, {
        yes: options.yes === true,
        list: options.list === true,
        revoke: options.revoke === true,
        json: options.json === true,
      });
    });

  program
    .command("backends")
    .description("list the backends that can be loaded, with their capabilities")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const { backends } = await import("./commands/backends.js");
      outcome.exitCode = await backends(environment(command), { json: options.json === true });
    });

  program
    .command("doctor")
    .description("check the selected backend's prerequisites and say what is missing")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const { doctor } = await import("./commands/doctor.js");
      outcome.exitCode = await doctor(environment(command), { json: options.json === true });
    });

  program
    .command("ls")
    .description("list the bottles of the selected backend")
    .option("--json", "print JSON")
    .option("--homes", "list the homes instead: one per agent and project, kept between bottles")
    .option("-w, --watch", "a live table on the terminal; rings the bell when a bottle turns waiting (also: claude-bottle top)")
    .action(async (options: { json?: boolean; homes?: boolean; watch?: boolean }, command: Command) => {
      if (options.watch) {
        const { lsWatch } = await import("./commands/ls-watch.js");
        outcome.exitCode = await lsWatch(environment(command));
        return;
      }
      if (options.homes) {
        const { listHomes } = await import("./commands/homes.js");
        outcome.exitCode = await listHomes(environment(command), { json: options.json === true });
        return;
      }
      const { ls } = await import("./commands/ls.js");
      outcome.exitCode = await ls(environment(command), { json: options.json === true });
    });

  program
    .command("diff")
    .description("show what a worktree bottle's branch and uncommitted changes change, through your pager")
    .argument("<bottle>", "the bottle's name (see: claude-bottle ls)")
    .option("--stat", "a diffstat instead of the changes")
    .option("--json", "print the files changed and their line counts as JSON")
    .action(async (bottle: string, options: { stat?: boolean; json?: boolean }, command: Command) => {
      const { diff } = await import("./commands/diff.js");
      outcome.exitCode = await diff(environment(command), bottle, { stat: options.stat === true, json: options.json === true });
    });

  program
    .command("merge")
    .description("merge a stopped worktree bottle's branch into your checkout's current branch")
    .argument("<bottle>", "the bottle's name (see: claude-bottle ls)")
    .addOption(new Option("--rebase", "replay its commits on your branch instead of a merge commit").conflicts("squash"))
    .option("--squash", "one commit of all its work instead of a merge commit")
    .addOption(new Option("--rm", "then remove the bottle and its worktree without asking (the branch stays)").conflicts("keep"))
    .option("--keep", "keep the bottle and its worktree without asking")
    .option("--delete-branch", "then delete its branch too (implies --rm)")
    .action(async (bottle: string, options: { rebase?: boolean; squash?: boolean; rm?: boolean; keep?: boolean; deleteBranch?: boolean }, command: Command) => {
      const { merge } = await import("./commands/merge.js");
      outcome.exitCode = await merge(environment(command), bottle, {
        mode: options.rebase ? "rebase" : options.squash ? "squash" : "merge",
        ...(options.rm ? { remove: true } : options.keep ? { remove: false } : {}),
        deleteBranch: options.deleteBranch === true,
      });
    });

  program
    .command("top")
    .description("the bottles as a live table (ls --watch)")
    .action(async (_options: object, command: Command) => {
      const { lsWatch } = await import("./commands/ls-watch.js");
      outcome.exitCode = await lsWatch(environment(command));
    });

  program
    .command("wait")
    .description("wait until a bottle's agent is waiting for you or done (for scripts)")
    .argument("<bottle>", "the bottle's name (see: claude-bottle ls)")
    .addOption(new Option("--for <state>", "the state to wait for (default: waiting or done, whichever comes first)").choices(["waiting", "done"]))
    .option("--timeout <seconds>", "give up after this many seconds (exit 124)")
    .option("--json", "print the status reached as JSON")
    .action(async (bottle: string, options: { for?: "waiting" | "done"; timeout?: string; json?: boolean }, command: Command) => {
      const { wait } = await import("./commands/wait.js");
      outcome.exitCode = await wait(environment(command), bottle, { for: options.for, timeout: options.timeout, json: options.json === true });
    });

  program
    .command("stop")
    .description("stop a bottle")
    .argument("<bottle>", "the bottle's name (see: claude-bottle ls)")
    .action(async (bottle: string, _options: object, command: Command) => {
      const { stop } = await import("./commands/stop.js");
      outcome.exitCode = await stop(environment(command), bottle);
    });

  program
    .command("port")
    .description("publish a running bottle's port on your 127.0.0.1 and [::1] only, or list what it publishes, with the URL to open")
    .argument("<bottle>", "the bottle's name (see: claude-bottle ls)")
    .argument("[port]", "the bottle's port, or HOST:BOTTLE (8080:3000); without it, the ports published")
    .action(async (bottle: string, wanted: string | undefined, _options: object, command: Command) => {
      const { port } = await import("./commands/port.js");
      outcome.exitCode = await port(environment(command), bottle, wanted);
    });

  program
    .command("proxy")
    .description("restart a running bottle's egress proxy after it died (ls says degraded); the agent keeps running")
    .usage("restart <bottle>")
    .addArgument(new Argument("<action>", "what to do").choices(["restart"]))
    .argument("<bottle>", "the bottle's name (see: claude-bottle ls)")
    .action(async (_action: "restart", bottle: string, _options: object, command: Command) => {
      const { restartProxy } = await import("./commands/proxy.js");
      outcome.exitCode = await restartProxy(environment(command), bottle);
    });

  program
    .command("rm")
    .description("remove a stopped bottle (and its worktree, keeping the branch); or, with --home, this project's homes")
    .usage("[options] <bottle>  |  rm --home [agent]")
    .argument("[bottle]", "the bottle's name (with --home: an agent, to remove only its home)")
    .option("-f, --force", "stop it first if it is running; save a worktree's uncommitted changes as a commit first")
    .option("--home", "remove this project's homes (logins, settings and transcripts kept between its bottles)")
    .action(async (bottle: string | undefined, options: { force?: boolean; home?: boolean }, command: Command) => {
      if (options.home) {
        const { removeProjectHomes } = await import("./commands/homes.js");
        outcome.exitCode = await removeProjectHomes(environment(command), bottle);
        return;
      }
      // Printed in the one-line format with the usage hint, as commander's own missing-argument error is.
      if (bottle === undefined) command.error("error: missing required argument 'bottle' (or --home)", { exitCode: 2, code: "commander.missingArgument" });
      const { rm } = await import("./commands/rm.js");
      outcome.exitCode = await rm(environment(command), bottle, { force: options.force === true });
    });

  program
    .command("prune")
    .description("remove the homes of projects that no longer exist")
    .action(async (_options: object, command: Command) => {
      const { prune } = await import("./commands/homes.js");
      outcome.exitCode = await prune(environment(command));
    });

  program
    .command("logs")
    .description("print a bottle's output")
    .argument("<bottle>", "the bottle's name")
    .option("-f, --follow", "keep printing new output until the bottle stops")
    .option("--egress", "print the connections its network policy refused (time, host:port, reason), not its output")
    .option("--json", "with --egress: one JSON object a line { time, host, port, reason, detail }")
    .action(async (bottle: string, options: { follow?: boolean; egress?: boolean; json?: boolean }, command: Command) => {
      const { logs } = await import("./commands/logs.js");
      outcome.exitCode = await logs(environment(command), bottle, {
        follow: options.follow === true,
        egress: options.egress === true,
        json: options.json === true,
      });
    });

  program
    .command("attach")
    .description("connect the terminal to a running bottle's agent")
    .argument("<bottle>", "the bottle's name")
    .action(async (bottle: string, _options: object, command: Command) => {
      const { attach } = await import("./commands/attach.js");
      outcome.exitCode = await attach(environment(command), bottle);
    });

  program
    .command("exec")
    .description("run a command in a running bottle")
    .usage("[options] <bottle> -- <command...>")
    .argument("<bottle>", "the bottle's name")
    .argument("<command...>", "the command and its arguments; put them after --")
    .action(async (bottle: string, commandLine: string[], _options: object, command: Command) => {
      const { exec } = await import("./commands/exec.js");
      outcome.exitCode = await exec(environment(command), bottle, commandLine);
    });

  program
    .command("shell")
    .description("open an interactive shell in a running bottle")
    .argument("<bottle>", "the bottle's name")
    .action(async (bottle: string, _options: object, command: Command) => {
      const { shell } = await import("./commands/shell.js");
      outcome.exitCode = await shell(environment(command), bottle);
    });

  for (const command of [program, ...program.commands]) {
    command.exitOverride();
    command.configureOutput({ outputError: (message, write) => write(usageError(message, command)) });
  }
  return program;
}

/** Commander's accumulator for a repeatable option. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Commander's "error: ..." in our one-line format, with where to find the usage. */
function usageError(message: string, command: Command): string {
  const text = message.replace(/^error: /, "").trimEnd();
  const name = command.parent ? `claude-bottle ${command.name()}` : "claude-bottle";
  return `claude-bottle: ${text}\n  hint: run "${name} --help" for usage.\n`;
}

/**
 * Commander gives an optional option value the next word when it does not
 * start with a dash, so `start --timing claude` would read "claude" as the
 * format. A bare `--timing` is made explicit before parsing; `--timing=json`
 * is how the other format is asked for.
 */
export function normalizeTimingFlag(argv: readonly string[]): string[] {
  const end = argv.indexOf("--");
  return normalizeWorktreeFlag(argv.map((arg, index) => (arg === "--timing" && (end === -1 || index < end) ? "--timing=table" : arg)));
}

/** Options whose value is the next word, which is then no agent name. */
const VALUE_OPTIONS = new Set(["--allow-host", "--publish", "--host-service", "--backend", "--isolation"]);

/**
 * `start --worktree [BRANCH] <agent>`: the word after a bare `--worktree` is
 * its branch only when another word names the agent; in `start --worktree
 * claude` it is the agent. A bare one is made explicit (`--worktree=`, the
 * default branch) before commander reads it.
 */
export function normalizeWorktreeFlag(argv: readonly string[]): string[] {
  const end = argv.indexOf("--") === -1 ? argv.length : argv.indexOf("--");
  const index = argv.indexOf("--worktree");
  if (index === -1 || index >= end) return [...argv];
  const next = argv[index + 1];
  const command = argv.indexOf("start");
  const words = argv
    .slice(command + 1, end)
    .filter((arg, i, all) => !arg.startsWith("-") && command + 1 + i !== index + 1 && !VALUE_OPTIONS.has(all[i - 1] ?? ""));
  // A global option's value (`--backend NAME`) comes before the command, so the words after it are start's own.
  const nextIsBranch = next !== undefined && index + 1 < end && !next.startsWith("-") && words.length > 0;
  return nextIsBranch ? [...argv] : [...argv.slice(0, index), "--worktree=", ...argv.slice(index + 1)];
}
