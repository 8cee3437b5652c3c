export * from './stage-checkpoint';
export * from './manifest-log';
export * from './micro-batch';
export * from './ownership';
