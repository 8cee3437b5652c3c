export { delimiterProblem, readCsv } from './csv-reader';
export { fieldText } from './fields';
export { csvFileProblem } from './csv-file';
export { CsvFileError, CsvHeaderError, type CsvHeader, type CsvReadOptions, type CsvReader, type CsvRecord, type CsvRecordOrBytes, type RowBytes } from './csv.types';
