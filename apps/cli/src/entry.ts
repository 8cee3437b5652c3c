/**
 * The `pipeline` command's entry point (bin/pipeline.js). A service's command (`pipeline silver …`)
 * runs that service's own `main` without loading the rest of the tool: `pipeline start` launches
 * each service this way, so a service's process loads what its service imports and no more. Every
 * other command, and `pipeline --help`, goes through `main.ts`, which lists the service commands too.
 */
import { serviceForCommand, usageExitCode } from './services';

export async function main(argv: string[]): Promise<number> {
  const service = argv[0] === undefined ? undefined : serviceForCommand(argv[0]);
  if (service === undefined) return (require('./main') as typeof import('./main')).main(argv);
  stopWithLauncher();
  try {
    return await service.load().main(argv.slice(1));
  } catch (error) {
    const exitCode = usageExitCode(error);
    if (exitCode === undefined) throw error;
    return exitCode;
  }
}

/**
 * A service `pipeline start` launched has an IPC channel to it, for this alone: when the channel
 * closes, `start` is gone (ended even by SIGKILL, which it cannot pass on), and the service stops as
 * on SIGTERM, finishing what it holds, rather than running on unseen with its port and leases. The
 * channel does not keep the service running.
 */
function stopWithLauncher(): void {
  if (process.channel === undefined) return;
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
