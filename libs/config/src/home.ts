import * as path from 'node:path';

/** Where the embedded backends keep their data: the flag, else `PIPELINE_HOME`, else `./.pipeline`. */
export function resolvePipelineHome(flag?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const chosen = flag?.trim() || env['PIPELINE_HOME']?.trim() || '.pipeline';
  return path.resolve(cwd, chosen);
}

/** The embedded layout under a pipeline home. */
export function localPaths(home: string) {
  return {
    home,
    lakeRoot: path.join(home, 'lake'),
    eventHubFile: path.join(home, 'eventhub.sqlite'),
    checkpointStoreFile: path.join(home, 'checkpoints.sqlite'),
    busFile: path.join(home, 'bus.sqlite'),
    servingStoreFile: path.join(home, 'serving.sqlite'),
  };
}
