/**
 * `npm run offline [-- --lambda-port N] [--http-port N]`: the serverless workflow in one command.
 * Bundles the handler as `npm run build` does, rebuilds it on every change (esbuild watch), and
 * runs `serverless offline start` (Lambda endpoint on 3002, as serverless.yml sets), restarted after
 * each successful rebuild, so what answers is always the code as edited. Then, in another shell:
 * `npm run local -- --invoke offline`.
 *
 * Why restart rather than serverless-offline's --reloadHandler: that starts a fresh worker, with
 * fresh Postgres and Mongo clients, for every invocation, and keeps the old ones until they idle
 * out; at the emulator's rate that exhausts Postgres's connections. A restart keeps warm containers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { context, type Plugin } from 'esbuild';
import { z } from 'zod';
import { defineCommand, intFlag, parseCommand } from '../tools/cli/args';
import { runMain } from '../tools/cli/main';
import { PROJECT_ROOT } from '../lib/config';
import { BUNDLE_OPTIONS, builtLine } from '../tools/bundle';

export const OFFLINE = defineCommand({
  command: 'npm run offline --',
  summary: [
    'Builds dist/sink.js, rebuilds it on every change, and runs serverless offline (restarted after each',
    'rebuild). Invoke it with `npm run local -- --invoke offline` or any Lambda client. Ctrl-C stops both.',
  ].join('\n'),
  flags: {
    'lambda-port': { type: 'string', value: 'N', help: 'the Lambda endpoint port (default 3002, serverless.yml)' },
    'http-port': { type: 'string', value: 'N', help: 'the HTTP port (default 3000, serverless.yml)' },
  },
  schema: z
    .object({ 'lambda-port': intFlag(1, 65_535).optional(), 'http-port': intFlag(1, 65_535).optional() })
    .strict(),
});

const say = (m: string) => process.stderr.write(`[offline] ${m}\n`);
const SERVERLESS = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'serverless');

/** serverless offline as a child process group: started, stopped, restarted. */
class OfflineServer {
  private child?: ChildProcess;
  private exited?: Promise<number | null>;
  /** Settles when the server exits by itself (not by {@link stop}); with its exit code. */
  onExit?: (code: number | null) => void;

  constructor(private readonly args: string[]) {}

  start(): void {
    const child = spawn(SERVERLESS, ['offline', 'start', ...this.args], {
      cwd: PROJECT_ROOT,
      stdio: 'inherit',
      // Its own group, so a stop reaches whatever it spawned.
      detached: true,
    });
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        if (this.child === child) this.onExit?.(code);
        resolve(code);
      }),
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-(child.pid as number), 'SIGTERM');
    } catch {
      return;
    }
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }
}

/** An esbuild plugin that starts the server after the first good build and restarts it after later ones. */
function serveBuilds(server: OfflineServer): Plugin {
  let builds = 0;
  return {
    name: 'serve-builds',
    setup(b) {
      b.onEnd(async (result) => {
        if (result.errors.length) {
          const keeps = builds
            ? 'serverless offline keeps the last good build'
            : 'serverless offline starts after a good one';
          say(`build failed (above): ${keeps}`);
          return;
        }
        say(builtLine(result as Parameters<typeof builtLine>[0]));
        builds++;
        if (builds === 1) server.start();
        else {
          say('restarting serverless offline');
          await server.restart();
        }
      });
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const o = parseCommand(OFFLINE, argv);
  const ports = [
    ...(o['lambda-port'] ? ['--lambdaPort', String(o['lambda-port'])] : []),
    ...(o['http-port'] ? ['--httpPort', String(o['http-port'])] : []),
  ];
  const server = new OfflineServer(ports);
  const ctx = await context({ ...BUNDLE_OPTIONS, plugins: [serveBuilds(server)] });
  // Watching starts with a build; a failed one is reported and waited out like any later one.
  await ctx.watch();
  const code = await new Promise<number>((resolve) => {
    server.onExit = (c) => resolve(c ?? 1);
    const stop = (sig: NodeJS.Signals) => {
      say(`${sig}: stopping`);
      void server.stop().then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await ctx.dispose();
  return code;
}

runMain('offline', main);
