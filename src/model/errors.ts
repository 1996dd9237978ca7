// Every error the model layer throws on purpose. Callers match on the class (or `name`).

/** A value does not fit its column: wrong type, missing, outside an enum, or unknown column. */
export class ValidationError extends Error {
  override name = 'ValidationError'
  constructor(
    readonly model: string,
    readonly column: string,
    readonly problem: string,
  ) {
    super(`${model}.${column} ${problem}`)
  }
}

/** A query that cannot be answered from the indexes (no index, not sortable, bad value). */
export class QueryError extends Error {
  override name = 'QueryError'
}

/** create() found a record with the same primary key. */
export class DuplicateKeyError extends Error {
  override name = 'DuplicateKeyError'
  constructor(
    readonly model: string,
    readonly id: string,
  ) {
    super(`${model} "${id}" already exists`)
  }
}

/** Another live record already holds this value of a unique column. */
export class UniqueConstraintError extends Error {
  override name = 'UniqueConstraintError'
  constructor(
    readonly model: string,
    readonly column: string,
  ) {
    super(`${model}.${column} must be unique: another record already has this value`)
  }
}

/** update() found the record at another version than the one it was given: someone else wrote first. */
export class VersionConflictError extends Error {
  override name = 'VersionConflictError'
  constructor(
    readonly model: string,
    readonly id: string,
    readonly expected: number,
    readonly current: number,
  ) {
    super(`${model} "${id}" is at version ${current}, not ${expected}`)
  }
}

/** update() would take the record past its model's version limit. */
export class VersionLimitError extends Error {
  override name = 'VersionLimitError'
  constructor(
    readonly model: string,
    readonly id: string,
    readonly limit: number,
  ) {
    super(`${model} "${id}" has reached its limit of ${limit} versions`)
  }
}
