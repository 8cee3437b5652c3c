export * from './lake';
export * from './event-hub';
