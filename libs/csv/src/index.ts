export { delimiterProblem, readCsv } from './csv-reader';
export { csvFileProblem } from './csv-file';
export { CsvFileError, CsvHeaderError, type CsvHeader, type CsvReadOptions, type CsvReader, type CsvRecord } from './csv.types';
