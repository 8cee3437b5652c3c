import { readFile } from 'node:fs/promises';
import { parseSpec, type PipelineSpec } from '@pipeline/contracts';

export class SpecFileError extends Error {
  override readonly name = 'SpecFileError';
}

/** Reads and validates a pipeline spec file (validation problems surface as `SpecValidationError`). */
export async function loadSpecFile(file: string): Promise<PipelineSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SpecFileError(`Pipeline spec ${file} does not exist. Pass --spec with the path of your spec (see examples/sensors.spec.yaml).`);
    throw new SpecFileError(`Cannot read pipeline spec ${file}: ${(error as Error).message}`);
  }
  return parseSpec(text, file);
}
