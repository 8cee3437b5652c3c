/**
 * Where the original of a lake object comes back from when it was damaged or deleted outside the
 * pipeline: every message that asks for the original names these, in these words.
 */
export const BACKUP_SOURCES = "from a backup, or the storage account's blob versions or soft-deleted blobs";
