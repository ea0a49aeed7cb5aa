export {
  type AnyOption,
  type ConfigOf,
  configFileValues,
  defineOptions,
  loadOptions,
  type Option,
  type OptionList,
  type OptionSources,
  type Origin,
  optionName,
  parseArgsOptions,
  parseValue,
} from './options.js';
export { configurationReference, type ReferenceSection } from './reference.js';
export { defaultText, flagSynopsis, helpEntry, optionsHelp } from './usage.js';
export { UsageError } from './usage-error.js';
export {
  choice,
  httpUrl,
  integer,
  invalid,
  list,
  onOff,
  path,
  presence,
  secret,
  text,
  type Unit,
  ValueProblem,
  type ValueType,
} from './value-types.js';
