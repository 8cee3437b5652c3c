export { readCsv } from './csv-reader';
export { CsvHeaderError, type CsvHeader, type CsvReadOptions, type CsvReader, type CsvRecord } from './csv.types';
