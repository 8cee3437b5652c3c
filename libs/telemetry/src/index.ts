export * from './tracing';
export * from './logger';
export * from './instrument';
export * from './metrics';
export * from './pipeline-metrics';
export * from './stage-measures';
