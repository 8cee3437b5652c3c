export * from './settings';
export * from './home';
export * from './spec-file';
export * from './process-lifecycle';
export * from './backends';
export * from './metrics-port';
