export * from './readings';
export * from './csv-record';
export * from './seeded-random';
export * from './flights';
