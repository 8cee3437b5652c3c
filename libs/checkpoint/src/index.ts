export * from './stage-checkpoint';
export * from './manifest-log';
