export * from './stage-checkpoint';
export * from './manifest-log';
export * from './micro-batch';
export * from './stage-lease';
export * from './stage-lease-keeper';
export * from './ownership';
export * from './capture-progress';
