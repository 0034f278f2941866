/** @module edgegraph: stateful agent graphs with diff-based, pluggable checkpoint storage. */
export { StateGraph, type CompileOptions, type NodeFunction, type NodeResult, type Route } from './graph/state-graph.js'
export { channel, type ChannelSpec, type StandardSchemaV1, type StateDefinition, type StateOf, type UpdateOf } from './graph/channels.js'
export { Command, Send, START, END } from './graph/command.js'
export {
  CompiledGraph,
  type CheckpointMetadata,
  type DebugEvent,
  type InvokeResult,
  type StateSnapshot,
  type StreamMode,
  type TaskInfo,
  type ThreadConfig,
} from './run/compiled.js'
export type { Durability, Interrupt, RunConfig } from './run/loop.js'
export type { NodeContext } from './run/spec.js'
export type { Usage, Source } from './checkpoint/record.js'
export type { HistoryOptions, ListOptions } from './checkpoint/history.js'
export { pruneHistory } from './checkpoint/retention.js'
export type { JsonPatchOperation } from './checkpoint/patch.js'
export type { Batch, Guard, ScanRange, StorageAdapter, StorageLimits, ThreadInfo } from './checkpoint/adapter.js'
export { EdgegraphError, ERROR_CODES, isEdgegraphError, type ErrorCode, type ErrorContext } from './errors.js'
