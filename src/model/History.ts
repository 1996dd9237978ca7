import type { RecordOf, Schema } from './columns.js'
import { encodeId } from './encoding.js'
import { Model, type Id } from './Model.js'
import type { Store } from './Store.js'

type Picked<S extends Schema, K extends keyof S> = { [P in K]: S[P] }

/**
 * The past versions of a versioned model's records: each `update` first copies the columns
 * named here, as they were, into the entry for the version it replaces (`P H:{id}:n`). An entry
 * shares its parent's hash tag, so it is written in the parent's script (on a cluster too),
 * expires with it (PEXPIREAT), and is deleted with it. Entries are in no index: a parent's are
 * numbered 1 … version - 1, so a reader asks for them by number.
 */
export class History<S extends Schema, K extends keyof S & string> {
  /** Reads entries as records of the picked columns; it never writes. */
  private readonly reader: Model<Picked<S, K>>
  readonly columns: readonly string[]

  constructor(
    readonly name: string,
    readonly parent: Model<S>,
    columns: readonly K[],
  ) {
    if (parent.version === null) throw new Error(`${name}: ${parent.name} needs a version column to keep a history`)
    if (parent.history) throw new Error(`${name}: ${parent.name} already has the history ${parent.history.name}`)
    for (const c of columns) {
      if (parent.column(c).options.counter) throw new Error(`${name}: ${parent.name}.${c} is a counter, which a history does not keep`)
    }
    // The primary key leads: an entry without it does not exist (see Model.readSelected).
    const names = [parent.primaryKey, ...columns.filter((c) => c !== parent.primaryKey)] as K[]
    const schema = Object.fromEntries(names.map((c) => [c, parent.column(c)])) as Picked<S, K>
    this.reader = new Model(name, schema)
    this.columns = names
    parent.history = this
  }

  /** Version `n` of record `id` as it was, or null (no such version, or the record is gone). One round trip. */
  async load(store: Store, id: Id, n: number): Promise<RecordOf<Picked<S, K>> | null>
  async load<P extends K>(store: Store, id: Id, n: number, select: readonly P[]): Promise<Pick<RecordOf<Picked<S, K>>, P> | null>
  async load(store: Store, id: Id, n: number, select?: readonly K[]) {
    const key = this.key(store, id, n)
    return select ? this.reader.readSelected(store, key, this.reader.selection(select)) : this.reader.readRecord(store, key)
  }

  /** Several versions of one record, in the order asked; all sent before any reply is awaited (one round trip). */
  loadMany<P extends K>(store: Store, id: Id, numbers: readonly number[], select: readonly P[]): Promise<(Pick<RecordOf<Picked<S, K>>, P> | null)[]> {
    const columns = this.reader.selection(select)
    return Promise.all(numbers.map((n) => this.reader.readSelected<P>(store, this.key(store, id, n), columns)))
  }

  private key(store: Store, id: Id, n: number): string {
    return store.historyKeys(this.name).version(encodeId(this.parent, id), n)
  }
}

/** Declares the history of a versioned model, keeping `columns` of each past version. */
export function defineHistory<S extends Schema, const K extends keyof S & string>(name: string, parent: Model<S>, columns: readonly K[]): History<S, K> {
  return new History(name, parent, columns)
}
