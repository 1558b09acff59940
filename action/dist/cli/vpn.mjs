import { createRequire as __ikev2CreateRequire } from 'node:module';
const require = __ikev2CreateRequire(import.meta.url);
import {
  AuthMethod,
  CertEncoding,
  CfgAttr,
  CfgType,
  CryptoError,
  DEFAULT_ESP_PROPOSALS,
  DEFAULT_IKE_PROPOSALS,
  DEFAULT_V1_PHASE2_PROPOSALS,
  DER_NULL,
  DhGroup,
  ExchangeType,
  HashAlgorithm,
  HeaderFlag,
  IdType,
  MAX_IMPORT_BYTES,
  NotifyType,
  PROFILE_NAME,
  ParseError,
  PayloadType,
  ProtocolId,
  Reader,
  SECRET_KEYS,
  Tag,
  TsType,
  V1EncapMode,
  VpnError,
  Writer,
  addrInRange,
  anyTs,
  applyPqMode,
  buildProposals,
  checkExcluded,
  checkNarrowed,
  children,
  chooseFromOffer,
  concatBytes,
  decodeOid,
  decodePhase1Choice,
  decodePhase2Choice,
  decodeResponderLifetime,
  decodeSaBody,
  decodeUnsigned,
  defaultV1Phase1Proposals,
  describeKeyExchanges,
  encodePhase1Sa,
  encodePhase2Sa,
  encodeSaBody,
  equalBytes,
  expectTag,
  findProfile,
  formatChosen,
  formatDn,
  formatIdentity,
  formatIpAddress,
  formatPhase1Spec,
  formatPhase2Spec,
  formatSpecs,
  formatTs,
  fromHex,
  fromSswan,
  fsIo,
  isLegacyPhase1,
  isPostQuantum,
  isVpnError,
  keyExchangesOfText,
  loadProfile,
  nameOf,
  narrowTo,
  oid,
  parseDer,
  parseIdentity,
  parseIpAddress,
  parseProposals,
  parseV1Phase1Proposals,
  parseV1Phase2Proposals,
  peekPacket,
  printable,
  printableJson,
  profileNameFrom,
  readDer,
  renderProfile,
  sameIdentity,
  selectResponderProposal,
  seq,
  tlv,
  toHex,
  tsFromCidr,
  u32be,
  wipe
} from "../chunks/chunk-ELOSSLHT.mjs";
import {
  __commonJS,
  __require,
  __toESM
} from "../chunks/chunk-LYMGZ2IG.mjs";

// node_modules/commander/lib/error.js
var require_error = __commonJS({
  "node_modules/commander/lib/error.js"(exports) {
    var CommanderError2 = class extends Error {
      /**
       * Constructs the CommanderError class
       * @param {number} exitCode suggested exit code which could be used with process.exit
       * @param {string} code an id string representing the error
       * @param {string} message human-readable description of the error
       */
      constructor(exitCode, code, message) {
        super(message);
        Error.captureStackTrace(this, this.constructor);
        this.name = this.constructor.name;
        this.code = code;
        this.exitCode = exitCode;
        this.nestedError = void 0;
      }
    };
    var InvalidArgumentError2 = class extends CommanderError2 {
      /**
       * Constructs the InvalidArgumentError class
       * @param {string} [message] explanation of why argument is invalid
       */
      constructor(message) {
        super(1, "commander.invalidArgument", message);
        Error.captureStackTrace(this, this.constructor);
        this.name = this.constructor.name;
      }
    };
    exports.CommanderError = CommanderError2;
    exports.InvalidArgumentError = InvalidArgumentError2;
  }
});

// node_modules/commander/lib/argument.js
var require_argument = __commonJS({
  "node_modules/commander/lib/argument.js"(exports) {
    var { InvalidArgumentError: InvalidArgumentError2 } = require_error();
    var Argument2 = class {
      /**
       * Initialize a new command argument with the given name and description.
       * The default is that the argument is required, and you can explicitly
       * indicate this with <> around the name. Put [] around the name for an optional argument.
       *
       * @param {string} name
       * @param {string} [description]
       */
      constructor(name, description) {
        this.description = description || "";
        this.variadic = false;
        this.parseArg = void 0;
        this.defaultValue = void 0;
        this.defaultValueDescription = void 0;
        this.argChoices = void 0;
        switch (name[0]) {
          case "<":
            this.required = true;
            this._name = name.slice(1, -1);
            break;
          case "[":
            this.required = false;
            this._name = name.slice(1, -1);
            break;
          default:
            this.required = true;
            this._name = name;
            break;
        }
        if (this._name.endsWith("...")) {
          this.variadic = true;
          this._name = this._name.slice(0, -3);
        }
      }
      /**
       * Return argument name.
       *
       * @return {string}
       */
      name() {
        return this._name;
      }
      /**
       * @package
       */
      _collectValue(value, previous) {
        if (previous === this.defaultValue || !Array.isArray(previous)) {
          return [value];
        }
        previous.push(value);
        return previous;
      }
      /**
       * Set the default value, and optionally supply the description to be displayed in the help.
       *
       * @param {*} value
       * @param {string} [description]
       * @return {Argument}
       */
      default(value, description) {
        this.defaultValue = value;
        this.defaultValueDescription = description;
        return this;
      }
      /**
       * Set the custom handler for processing CLI command arguments into argument values.
       *
       * @param {Function} [fn]
       * @return {Argument}
       */
      argParser(fn) {
        this.parseArg = fn;
        return this;
      }
      /**
       * Only allow argument value to be one of choices.
       *
       * @param {string[]} values
       * @return {Argument}
       */
      choices(values) {
        this.argChoices = values.slice();
        this.parseArg = (arg, previous) => {
          if (!this.argChoices.includes(arg)) {
            throw new InvalidArgumentError2(
              `Allowed choices are ${this.argChoices.join(", ")}.`
            );
          }
          if (this.variadic) {
            return this._collectValue(arg, previous);
          }
          return arg;
        };
        return this;
      }
      /**
       * Make argument required.
       *
       * @returns {Argument}
       */
      argRequired() {
        this.required = true;
        return this;
      }
      /**
       * Make argument optional.
       *
       * @returns {Argument}
       */
      argOptional() {
        this.required = false;
        return this;
      }
    };
    function humanReadableArgName(arg) {
      const nameOutput = arg.name() + (arg.variadic === true ? "..." : "");
      return arg.required ? "<" + nameOutput + ">" : "[" + nameOutput + "]";
    }
    exports.Argument = Argument2;
    exports.humanReadableArgName = humanReadableArgName;
  }
});

// node_modules/commander/lib/help.js
var require_help = __commonJS({
  "node_modules/commander/lib/help.js"(exports) {
    var { humanReadableArgName } = require_argument();
    var Help2 = class {
      constructor() {
        this.helpWidth = void 0;
        this.minWidthToWrap = 40;
        this.sortSubcommands = false;
        this.sortOptions = false;
        this.showGlobalOptions = false;
      }
      /**
       * prepareContext is called by Commander after applying overrides from `Command.configureHelp()`
       * and just before calling `formatHelp()`.
       *
       * Commander just uses the helpWidth and the rest is provided for optional use by more complex subclasses.
       *
       * @param {{ error?: boolean, helpWidth?: number, outputHasColors?: boolean }} contextOptions
       */
      prepareContext(contextOptions) {
        this.helpWidth = this.helpWidth ?? contextOptions.helpWidth ?? 80;
      }
      /**
       * Get an array of the visible subcommands. Includes a placeholder for the implicit help command, if there is one.
       *
       * @param {Command} cmd
       * @returns {Command[]}
       */
      visibleCommands(cmd) {
        const visibleCommands = cmd.commands.filter((cmd2) => !cmd2._hidden);
        const helpCommand = cmd._getHelpCommand();
        if (helpCommand && !helpCommand._hidden) {
          visibleCommands.push(helpCommand);
        }
        if (this.sortSubcommands) {
          visibleCommands.sort((a, b) => {
            return a.name().localeCompare(b.name());
          });
        }
        return visibleCommands;
      }
      /**
       * Compare options for sort.
       *
       * @param {Option} a
       * @param {Option} b
       * @returns {number}
       */
      compareOptions(a, b) {
        const getSortKey = (option) => {
          return option.short ? option.short.replace(/^-/, "") : option.long.replace(/^--/, "");
        };
        return getSortKey(a).localeCompare(getSortKey(b));
      }
      /**
       * Get an array of the visible options. Includes a placeholder for the implicit help option, if there is one.
       *
       * @param {Command} cmd
       * @returns {Option[]}
       */
      visibleOptions(cmd) {
        const visibleOptions = cmd.options.filter((option) => !option.hidden);
        const helpOption = cmd._getHelpOption();
        if (helpOption && !helpOption.hidden) {
          const removeShort = helpOption.short && cmd._findOption(helpOption.short);
          const removeLong = helpOption.long && cmd._findOption(helpOption.long);
          if (!removeShort && !removeLong) {
            visibleOptions.push(helpOption);
          } else if (helpOption.long && !removeLong) {
            visibleOptions.push(
              cmd.createOption(helpOption.long, helpOption.description)
            );
          } else if (helpOption.short && !removeShort) {
            visibleOptions.push(
              cmd.createOption(helpOption.short, helpOption.description)
            );
          }
        }
        if (this.sortOptions) {
          visibleOptions.sort(this.compareOptions);
        }
        return visibleOptions;
      }
      /**
       * Get an array of the visible global options. (Not including help.)
       *
       * @param {Command} cmd
       * @returns {Option[]}
       */
      visibleGlobalOptions(cmd) {
        if (!this.showGlobalOptions) return [];
        const globalOptions = [];
        for (let ancestorCmd = cmd.parent; ancestorCmd; ancestorCmd = ancestorCmd.parent) {
          const visibleOptions = ancestorCmd.options.filter(
            (option) => !option.hidden
          );
          globalOptions.push(...visibleOptions);
        }
        if (this.sortOptions) {
          globalOptions.sort(this.compareOptions);
        }
        return globalOptions;
      }
      /**
       * Get an array of the arguments if any have a description.
       *
       * @param {Command} cmd
       * @returns {Argument[]}
       */
      visibleArguments(cmd) {
        if (cmd._argsDescription) {
          cmd.registeredArguments.forEach((argument) => {
            argument.description = argument.description || cmd._argsDescription[argument.name()] || "";
          });
        }
        if (cmd.registeredArguments.find((argument) => argument.description)) {
          return cmd.registeredArguments;
        }
        return [];
      }
      /**
       * Get the command term to show in the list of subcommands.
       *
       * @param {Command} cmd
       * @returns {string}
       */
      subcommandTerm(cmd) {
        const args = cmd.registeredArguments.map((arg) => humanReadableArgName(arg)).join(" ");
        return cmd._name + (cmd._aliases[0] ? "|" + cmd._aliases[0] : "") + (cmd.options.length ? " [options]" : "") + // simplistic check for non-help option
        (args ? " " + args : "");
      }
      /**
       * Get the option term to show in the list of options.
       *
       * @param {Option} option
       * @returns {string}
       */
      optionTerm(option) {
        return option.flags;
      }
      /**
       * Get the argument term to show in the list of arguments.
       *
       * @param {Argument} argument
       * @returns {string}
       */
      argumentTerm(argument) {
        return argument.name();
      }
      /**
       * Get the longest command term length.
       *
       * @param {Command} cmd
       * @param {Help} helper
       * @returns {number}
       */
      longestSubcommandTermLength(cmd, helper) {
        return helper.visibleCommands(cmd).reduce((max, command) => {
          return Math.max(
            max,
            this.displayWidth(
              helper.styleSubcommandTerm(helper.subcommandTerm(command))
            )
          );
        }, 0);
      }
      /**
       * Get the longest option term length.
       *
       * @param {Command} cmd
       * @param {Help} helper
       * @returns {number}
       */
      longestOptionTermLength(cmd, helper) {
        return helper.visibleOptions(cmd).reduce((max, option) => {
          return Math.max(
            max,
            this.displayWidth(helper.styleOptionTerm(helper.optionTerm(option)))
          );
        }, 0);
      }
      /**
       * Get the longest global option term length.
       *
       * @param {Command} cmd
       * @param {Help} helper
       * @returns {number}
       */
      longestGlobalOptionTermLength(cmd, helper) {
        return helper.visibleGlobalOptions(cmd).reduce((max, option) => {
          return Math.max(
            max,
            this.displayWidth(helper.styleOptionTerm(helper.optionTerm(option)))
          );
        }, 0);
      }
      /**
       * Get the longest argument term length.
       *
       * @param {Command} cmd
       * @param {Help} helper
       * @returns {number}
       */
      longestArgumentTermLength(cmd, helper) {
        return helper.visibleArguments(cmd).reduce((max, argument) => {
          return Math.max(
            max,
            this.displayWidth(
              helper.styleArgumentTerm(helper.argumentTerm(argument))
            )
          );
        }, 0);
      }
      /**
       * Get the command usage to be displayed at the top of the built-in help.
       *
       * @param {Command} cmd
       * @returns {string}
       */
      commandUsage(cmd) {
        let cmdName = cmd._name;
        if (cmd._aliases[0]) {
          cmdName = cmdName + "|" + cmd._aliases[0];
        }
        let ancestorCmdNames = "";
        for (let ancestorCmd = cmd.parent; ancestorCmd; ancestorCmd = ancestorCmd.parent) {
          ancestorCmdNames = ancestorCmd.name() + " " + ancestorCmdNames;
        }
        return ancestorCmdNames + cmdName + " " + cmd.usage();
      }
      /**
       * Get the description for the command.
       *
       * @param {Command} cmd
       * @returns {string}
       */
      commandDescription(cmd) {
        return cmd.description();
      }
      /**
       * Get the subcommand summary to show in the list of subcommands.
       * (Fallback to description for backwards compatibility.)
       *
       * @param {Command} cmd
       * @returns {string}
       */
      subcommandDescription(cmd) {
        return cmd.summary() || cmd.description();
      }
      /**
       * Get the option description to show in the list of options.
       *
       * @param {Option} option
       * @return {string}
       */
      optionDescription(option) {
        const extraInfo = [];
        if (option.argChoices) {
          extraInfo.push(
            // use stringify to match the display of the default value
            `choices: ${option.argChoices.map((choice) => JSON.stringify(choice)).join(", ")}`
          );
        }
        if (option.defaultValue !== void 0) {
          const showDefault = option.required || option.optional || option.isBoolean() && typeof option.defaultValue === "boolean";
          if (showDefault) {
            extraInfo.push(
              `default: ${option.defaultValueDescription || JSON.stringify(option.defaultValue)}`
            );
          }
        }
        if (option.presetArg !== void 0 && option.optional) {
          extraInfo.push(`preset: ${JSON.stringify(option.presetArg)}`);
        }
        if (option.envVar !== void 0) {
          extraInfo.push(`env: ${option.envVar}`);
        }
        if (extraInfo.length > 0) {
          const extraDescription = `(${extraInfo.join(", ")})`;
          if (option.description) {
            return `${option.description} ${extraDescription}`;
          }
          return extraDescription;
        }
        return option.description;
      }
      /**
       * Get the argument description to show in the list of arguments.
       *
       * @param {Argument} argument
       * @return {string}
       */
      argumentDescription(argument) {
        const extraInfo = [];
        if (argument.argChoices) {
          extraInfo.push(
            // use stringify to match the display of the default value
            `choices: ${argument.argChoices.map((choice) => JSON.stringify(choice)).join(", ")}`
          );
        }
        if (argument.defaultValue !== void 0) {
          extraInfo.push(
            `default: ${argument.defaultValueDescription || JSON.stringify(argument.defaultValue)}`
          );
        }
        if (extraInfo.length > 0) {
          const extraDescription = `(${extraInfo.join(", ")})`;
          if (argument.description) {
            return `${argument.description} ${extraDescription}`;
          }
          return extraDescription;
        }
        return argument.description;
      }
      /**
       * Format a list of items, given a heading and an array of formatted items.
       *
       * @param {string} heading
       * @param {string[]} items
       * @param {Help} helper
       * @returns string[]
       */
      formatItemList(heading, items, helper) {
        if (items.length === 0) return [];
        return [helper.styleTitle(heading), ...items, ""];
      }
      /**
       * Group items by their help group heading.
       *
       * @param {Command[] | Option[]} unsortedItems
       * @param {Command[] | Option[]} visibleItems
       * @param {Function} getGroup
       * @returns {Map<string, Command[] | Option[]>}
       */
      groupItems(unsortedItems, visibleItems, getGroup) {
        const result = /* @__PURE__ */ new Map();
        unsortedItems.forEach((item) => {
          const group = getGroup(item);
          if (!result.has(group)) result.set(group, []);
        });
        visibleItems.forEach((item) => {
          const group = getGroup(item);
          if (!result.has(group)) {
            result.set(group, []);
          }
          result.get(group).push(item);
        });
        return result;
      }
      /**
       * Generate the built-in help text.
       *
       * @param {Command} cmd
       * @param {Help} helper
       * @returns {string}
       */
      formatHelp(cmd, helper) {
        const termWidth = helper.padWidth(cmd, helper);
        const helpWidth = helper.helpWidth ?? 80;
        function callFormatItem(term, description) {
          return helper.formatItem(term, termWidth, description, helper);
        }
        let output = [
          `${helper.styleTitle("Usage:")} ${helper.styleUsage(helper.commandUsage(cmd))}`,
          ""
        ];
        const commandDescription = helper.commandDescription(cmd);
        if (commandDescription.length > 0) {
          output = output.concat([
            helper.boxWrap(
              helper.styleCommandDescription(commandDescription),
              helpWidth
            ),
            ""
          ]);
        }
        const argumentList = helper.visibleArguments(cmd).map((argument) => {
          return callFormatItem(
            helper.styleArgumentTerm(helper.argumentTerm(argument)),
            helper.styleArgumentDescription(helper.argumentDescription(argument))
          );
        });
        output = output.concat(
          this.formatItemList("Arguments:", argumentList, helper)
        );
        const optionGroups = this.groupItems(
          cmd.options,
          helper.visibleOptions(cmd),
          (option) => option.helpGroupHeading ?? "Options:"
        );
        optionGroups.forEach((options, group) => {
          const optionList = options.map((option) => {
            return callFormatItem(
              helper.styleOptionTerm(helper.optionTerm(option)),
              helper.styleOptionDescription(helper.optionDescription(option))
            );
          });
          output = output.concat(this.formatItemList(group, optionList, helper));
        });
        if (helper.showGlobalOptions) {
          const globalOptionList = helper.visibleGlobalOptions(cmd).map((option) => {
            return callFormatItem(
              helper.styleOptionTerm(helper.optionTerm(option)),
              helper.styleOptionDescription(helper.optionDescription(option))
            );
          });
          output = output.concat(
            this.formatItemList("Global Options:", globalOptionList, helper)
          );
        }
        const commandGroups = this.groupItems(
          cmd.commands,
          helper.visibleCommands(cmd),
          (sub) => sub.helpGroup() || "Commands:"
        );
        commandGroups.forEach((commands, group) => {
          const commandList = commands.map((sub) => {
            return callFormatItem(
              helper.styleSubcommandTerm(helper.subcommandTerm(sub)),
              helper.styleSubcommandDescription(helper.subcommandDescription(sub))
            );
          });
          output = output.concat(this.formatItemList(group, commandList, helper));
        });
        return output.join("\n");
      }
      /**
       * Return display width of string, ignoring ANSI escape sequences. Used in padding and wrapping calculations.
       *
       * @param {string} str
       * @returns {number}
       */
      displayWidth(str) {
        return stripColor(str).length;
      }
      /**
       * Style the title for displaying in the help. Called with 'Usage:', 'Options:', etc.
       *
       * @param {string} str
       * @returns {string}
       */
      styleTitle(str) {
        return str;
      }
      styleUsage(str) {
        return str.split(" ").map((word) => {
          if (word === "[options]") return this.styleOptionText(word);
          if (word === "[command]") return this.styleSubcommandText(word);
          if (word[0] === "[" || word[0] === "<")
            return this.styleArgumentText(word);
          return this.styleCommandText(word);
        }).join(" ");
      }
      styleCommandDescription(str) {
        return this.styleDescriptionText(str);
      }
      styleOptionDescription(str) {
        return this.styleDescriptionText(str);
      }
      styleSubcommandDescription(str) {
        return this.styleDescriptionText(str);
      }
      styleArgumentDescription(str) {
        return this.styleDescriptionText(str);
      }
      styleDescriptionText(str) {
        return str;
      }
      styleOptionTerm(str) {
        return this.styleOptionText(str);
      }
      styleSubcommandTerm(str) {
        return str.split(" ").map((word) => {
          if (word === "[options]") return this.styleOptionText(word);
          if (word[0] === "[" || word[0] === "<")
            return this.styleArgumentText(word);
          return this.styleSubcommandText(word);
        }).join(" ");
      }
      styleArgumentTerm(str) {
        return this.styleArgumentText(str);
      }
      styleOptionText(str) {
        return str;
      }
      styleArgumentText(str) {
        return str;
      }
      styleSubcommandText(str) {
        return str;
      }
      styleCommandText(str) {
        return str;
      }
      /**
       * Calculate the pad width from the maximum term length.
       *
       * @param {Command} cmd
       * @param {Help} helper
       * @returns {number}
       */
      padWidth(cmd, helper) {
        return Math.max(
          helper.longestOptionTermLength(cmd, helper),
          helper.longestGlobalOptionTermLength(cmd, helper),
          helper.longestSubcommandTermLength(cmd, helper),
          helper.longestArgumentTermLength(cmd, helper)
        );
      }
      /**
       * Detect manually wrapped and indented strings by checking for line break followed by whitespace.
       *
       * @param {string} str
       * @returns {boolean}
       */
      preformatted(str) {
        return /\n[^\S\r\n]/.test(str);
      }
      /**
       * Format the "item", which consists of a term and description. Pad the term and wrap the description, indenting the following lines.
       *
       * So "TTT", 5, "DDD DDDD DD DDD" might be formatted for this.helpWidth=17 like so:
       *   TTT  DDD DDDD
       *        DD DDD
       *
       * @param {string} term
       * @param {number} termWidth
       * @param {string} description
       * @param {Help} helper
       * @returns {string}
       */
      formatItem(term, termWidth, description, helper) {
        const itemIndent = 2;
        const itemIndentStr = " ".repeat(itemIndent);
        if (!description) return itemIndentStr + term;
        const paddedTerm = term.padEnd(
          termWidth + term.length - helper.displayWidth(term)
        );
        const spacerWidth = 2;
        const helpWidth = this.helpWidth ?? 80;
        const remainingWidth = helpWidth - termWidth - spacerWidth - itemIndent;
        let formattedDescription;
        if (remainingWidth < this.minWidthToWrap || helper.preformatted(description)) {
          formattedDescription = description;
        } else {
          const wrappedDescription = helper.boxWrap(description, remainingWidth);
          formattedDescription = wrappedDescription.replace(
            /\n/g,
            "\n" + " ".repeat(termWidth + spacerWidth)
          );
        }
        return itemIndentStr + paddedTerm + " ".repeat(spacerWidth) + formattedDescription.replace(/\n/g, `
${itemIndentStr}`);
      }
      /**
       * Wrap a string at whitespace, preserving existing line breaks.
       * Wrapping is skipped if the width is less than `minWidthToWrap`.
       *
       * @param {string} str
       * @param {number} width
       * @returns {string}
       */
      boxWrap(str, width) {
        if (width < this.minWidthToWrap) return str;
        const rawLines = str.split(/\r\n|\n/);
        const chunkPattern = /[\s]*[^\s]+/g;
        const wrappedLines = [];
        rawLines.forEach((line) => {
          const chunks = line.match(chunkPattern);
          if (chunks === null) {
            wrappedLines.push("");
            return;
          }
          let sumChunks = [chunks.shift()];
          let sumWidth = this.displayWidth(sumChunks[0]);
          chunks.forEach((chunk) => {
            const visibleWidth = this.displayWidth(chunk);
            if (sumWidth + visibleWidth <= width) {
              sumChunks.push(chunk);
              sumWidth += visibleWidth;
              return;
            }
            wrappedLines.push(sumChunks.join(""));
            const nextChunk = chunk.trimStart();
            sumChunks = [nextChunk];
            sumWidth = this.displayWidth(nextChunk);
          });
          wrappedLines.push(sumChunks.join(""));
        });
        return wrappedLines.join("\n");
      }
    };
    function stripColor(str) {
      const sgrPattern = /\x1b\[\d*(;\d*)*m/g;
      return str.replace(sgrPattern, "");
    }
    exports.Help = Help2;
    exports.stripColor = stripColor;
  }
});

// node_modules/commander/lib/option.js
var require_option = __commonJS({
  "node_modules/commander/lib/option.js"(exports) {
    var { InvalidArgumentError: InvalidArgumentError2 } = require_error();
    var Option2 = class {
      /**
       * Initialize a new `Option` with the given `flags` and `description`.
       *
       * @param {string} flags
       * @param {string} [description]
       */
      constructor(flags, description) {
        this.flags = flags;
        this.description = description || "";
        this.required = flags.includes("<");
        this.optional = flags.includes("[");
        this.variadic = /\w\.\.\.[>\]]$/.test(flags);
        this.mandatory = false;
        const optionFlags = splitOptionFlags(flags);
        this.short = optionFlags.shortFlag;
        this.long = optionFlags.longFlag;
        this.negate = false;
        if (this.long) {
          this.negate = this.long.startsWith("--no-");
        }
        this.defaultValue = void 0;
        this.defaultValueDescription = void 0;
        this.presetArg = void 0;
        this.envVar = void 0;
        this.parseArg = void 0;
        this.hidden = false;
        this.argChoices = void 0;
        this.conflictsWith = [];
        this.implied = void 0;
        this.helpGroupHeading = void 0;
      }
      /**
       * Set the default value, and optionally supply the description to be displayed in the help.
       *
       * @param {*} value
       * @param {string} [description]
       * @return {Option}
       */
      default(value, description) {
        this.defaultValue = value;
        this.defaultValueDescription = description;
        return this;
      }
      /**
       * Preset to use when option used without option-argument, especially optional but also boolean and negated.
       * The custom processing (parseArg) is called.
       *
       * @example
       * new Option('--color').default('GREYSCALE').preset('RGB');
       * new Option('--donate [amount]').preset('20').argParser(parseFloat);
       *
       * @param {*} arg
       * @return {Option}
       */
      preset(arg) {
        this.presetArg = arg;
        return this;
      }
      /**
       * Add option name(s) that conflict with this option.
       * An error will be displayed if conflicting options are found during parsing.
       *
       * @example
       * new Option('--rgb').conflicts('cmyk');
       * new Option('--js').conflicts(['ts', 'jsx']);
       *
       * @param {(string | string[])} names
       * @return {Option}
       */
      conflicts(names) {
        this.conflictsWith = this.conflictsWith.concat(names);
        return this;
      }
      /**
       * Specify implied option values for when this option is set and the implied options are not.
       *
       * The custom processing (parseArg) is not called on the implied values.
       *
       * @example
       * program
       *   .addOption(new Option('--log', 'write logging information to file'))
       *   .addOption(new Option('--trace', 'log extra details').implies({ log: 'trace.txt' }));
       *
       * @param {object} impliedOptionValues
       * @return {Option}
       */
      implies(impliedOptionValues) {
        let newImplied = impliedOptionValues;
        if (typeof impliedOptionValues === "string") {
          newImplied = { [impliedOptionValues]: true };
        }
        this.implied = Object.assign(this.implied || {}, newImplied);
        return this;
      }
      /**
       * Set environment variable to check for option value.
       *
       * An environment variable is only used if when processed the current option value is
       * undefined, or the source of the current value is 'default' or 'config' or 'env'.
       *
       * @param {string} name
       * @return {Option}
       */
      env(name) {
        this.envVar = name;
        return this;
      }
      /**
       * Set the custom handler for processing CLI option arguments into option values.
       *
       * @param {Function} [fn]
       * @return {Option}
       */
      argParser(fn) {
        this.parseArg = fn;
        return this;
      }
      /**
       * Whether the option is mandatory and must have a value after parsing.
       *
       * @param {boolean} [mandatory=true]
       * @return {Option}
       */
      makeOptionMandatory(mandatory = true) {
        this.mandatory = !!mandatory;
        return this;
      }
      /**
       * Hide option in help.
       *
       * @param {boolean} [hide=true]
       * @return {Option}
       */
      hideHelp(hide = true) {
        this.hidden = !!hide;
        return this;
      }
      /**
       * @package
       */
      _collectValue(value, previous) {
        if (previous === this.defaultValue || !Array.isArray(previous)) {
          return [value];
        }
        previous.push(value);
        return previous;
      }
      /**
       * Only allow option value to be one of choices.
       *
       * @param {string[]} values
       * @return {Option}
       */
      choices(values) {
        this.argChoices = values.slice();
        this.parseArg = (arg, previous) => {
          if (!this.argChoices.includes(arg)) {
            throw new InvalidArgumentError2(
              `Allowed choices are ${this.argChoices.join(", ")}.`
            );
          }
          if (this.variadic) {
            return this._collectValue(arg, previous);
          }
          return arg;
        };
        return this;
      }
      /**
       * Return option name.
       *
       * @return {string}
       */
      name() {
        if (this.long) {
          return this.long.replace(/^--/, "");
        }
        return this.short.replace(/^-/, "");
      }
      /**
       * Return option name, in a camelcase format that can be used
       * as an object attribute key.
       *
       * @return {string}
       */
      attributeName() {
        if (this.negate) {
          return camelcase(this.name().replace(/^no-/, ""));
        }
        return camelcase(this.name());
      }
      /**
       * Set the help group heading.
       *
       * @param {string} heading
       * @return {Option}
       */
      helpGroup(heading) {
        this.helpGroupHeading = heading;
        return this;
      }
      /**
       * Check if `arg` matches the short or long flag.
       *
       * @param {string} arg
       * @return {boolean}
       * @package
       */
      is(arg) {
        return this.short === arg || this.long === arg;
      }
      /**
       * Return whether a boolean option.
       *
       * Options are one of boolean, negated, required argument, or optional argument.
       *
       * @return {boolean}
       * @package
       */
      isBoolean() {
        return !this.required && !this.optional && !this.negate;
      }
    };
    var DualOptions = class {
      /**
       * @param {Option[]} options
       */
      constructor(options) {
        this.positiveOptions = /* @__PURE__ */ new Map();
        this.negativeOptions = /* @__PURE__ */ new Map();
        this.dualOptions = /* @__PURE__ */ new Set();
        options.forEach((option) => {
          if (option.negate) {
            this.negativeOptions.set(option.attributeName(), option);
          } else {
            this.positiveOptions.set(option.attributeName(), option);
          }
        });
        this.negativeOptions.forEach((value, key) => {
          if (this.positiveOptions.has(key)) {
            this.dualOptions.add(key);
          }
        });
      }
      /**
       * Did the value come from the option, and not from possible matching dual option?
       *
       * @param {*} value
       * @param {Option} option
       * @returns {boolean}
       */
      valueFromOption(value, option) {
        const optionKey = option.attributeName();
        if (!this.dualOptions.has(optionKey)) return true;
        const preset = this.negativeOptions.get(optionKey).presetArg;
        const negativeValue = preset !== void 0 ? preset : false;
        return option.negate === (negativeValue === value);
      }
    };
    function camelcase(str) {
      return str.split("-").reduce((str2, word) => {
        return str2 + word[0].toUpperCase() + word.slice(1);
      });
    }
    function splitOptionFlags(flags) {
      let shortFlag;
      let longFlag;
      const shortFlagExp = /^-[^-]$/;
      const longFlagExp = /^--[^-]/;
      const flagParts = flags.split(/[ |,]+/).concat("guard");
      if (shortFlagExp.test(flagParts[0])) shortFlag = flagParts.shift();
      if (longFlagExp.test(flagParts[0])) longFlag = flagParts.shift();
      if (!shortFlag && shortFlagExp.test(flagParts[0]))
        shortFlag = flagParts.shift();
      if (!shortFlag && longFlagExp.test(flagParts[0])) {
        shortFlag = longFlag;
        longFlag = flagParts.shift();
      }
      if (flagParts[0].startsWith("-")) {
        const unsupportedFlag = flagParts[0];
        const baseError = `option creation failed due to '${unsupportedFlag}' in option flags '${flags}'`;
        if (/^-[^-][^-]/.test(unsupportedFlag))
          throw new Error(
            `${baseError}
- a short flag is a single dash and a single character
  - either use a single dash and a single character (for a short flag)
  - or use a double dash for a long option (and can have two, like '--ws, --workspace')`
          );
        if (shortFlagExp.test(unsupportedFlag))
          throw new Error(`${baseError}
- too many short flags`);
        if (longFlagExp.test(unsupportedFlag))
          throw new Error(`${baseError}
- too many long flags`);
        throw new Error(`${baseError}
- unrecognised flag format`);
      }
      if (shortFlag === void 0 && longFlag === void 0)
        throw new Error(
          `option creation failed due to no flags found in '${flags}'.`
        );
      return { shortFlag, longFlag };
    }
    exports.Option = Option2;
    exports.DualOptions = DualOptions;
  }
});

// node_modules/commander/lib/suggestSimilar.js
var require_suggestSimilar = __commonJS({
  "node_modules/commander/lib/suggestSimilar.js"(exports) {
    var maxDistance = 3;
    function editDistance(a, b) {
      if (Math.abs(a.length - b.length) > maxDistance)
        return Math.max(a.length, b.length);
      const d = [];
      for (let i = 0; i <= a.length; i++) {
        d[i] = [i];
      }
      for (let j = 0; j <= b.length; j++) {
        d[0][j] = j;
      }
      for (let j = 1; j <= b.length; j++) {
        for (let i = 1; i <= a.length; i++) {
          let cost = 1;
          if (a[i - 1] === b[j - 1]) {
            cost = 0;
          } else {
            cost = 1;
          }
          d[i][j] = Math.min(
            d[i - 1][j] + 1,
            // deletion
            d[i][j - 1] + 1,
            // insertion
            d[i - 1][j - 1] + cost
            // substitution
          );
          if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
            d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
          }
        }
      }
      return d[a.length][b.length];
    }
    function suggestSimilar(word, candidates) {
      if (!candidates || candidates.length === 0) return "";
      candidates = Array.from(new Set(candidates));
      const searchingOptions = word.startsWith("--");
      if (searchingOptions) {
        word = word.slice(2);
        candidates = candidates.map((candidate) => candidate.slice(2));
      }
      let similar = [];
      let bestDistance = maxDistance;
      const minSimilarity = 0.4;
      candidates.forEach((candidate) => {
        if (candidate.length <= 1) return;
        const distance = editDistance(word, candidate);
        const length = Math.max(word.length, candidate.length);
        const similarity = (length - distance) / length;
        if (similarity > minSimilarity) {
          if (distance < bestDistance) {
            bestDistance = distance;
            similar = [candidate];
          } else if (distance === bestDistance) {
            similar.push(candidate);
          }
        }
      });
      similar.sort((a, b) => a.localeCompare(b));
      if (searchingOptions) {
        similar = similar.map((candidate) => `--${candidate}`);
      }
      if (similar.length > 1) {
        return `
(Did you mean one of ${similar.join(", ")}?)`;
      }
      if (similar.length === 1) {
        return `
(Did you mean ${similar[0]}?)`;
      }
      return "";
    }
    exports.suggestSimilar = suggestSimilar;
  }
});

// node_modules/commander/lib/command.js
var require_command = __commonJS({
  "node_modules/commander/lib/command.js"(exports) {
    var EventEmitter = __require("node:events").EventEmitter;
    var childProcess = __require("node:child_process");
    var path = __require("node:path");
    var fs = __require("node:fs");
    var process2 = __require("node:process");
    var { Argument: Argument2, humanReadableArgName } = require_argument();
    var { CommanderError: CommanderError2 } = require_error();
    var { Help: Help2, stripColor } = require_help();
    var { Option: Option2, DualOptions } = require_option();
    var { suggestSimilar } = require_suggestSimilar();
    var Command2 = class _Command extends EventEmitter {
      /**
       * Initialize a new `Command`.
       *
       * @param {string} [name]
       */
      constructor(name) {
        super();
        this.commands = [];
        this.options = [];
        this.parent = null;
        this._allowUnknownOption = false;
        this._allowExcessArguments = false;
        this.registeredArguments = [];
        this._args = this.registeredArguments;
        this.args = [];
        this.rawArgs = [];
        this.processedArgs = [];
        this._scriptPath = null;
        this._name = name || "";
        this._optionValues = {};
        this._optionValueSources = {};
        this._storeOptionsAsProperties = false;
        this._actionHandler = null;
        this._executableHandler = false;
        this._executableFile = null;
        this._executableDir = null;
        this._defaultCommandName = null;
        this._exitCallback = null;
        this._aliases = [];
        this._combineFlagAndOptionalValue = true;
        this._description = "";
        this._summary = "";
        this._argsDescription = void 0;
        this._enablePositionalOptions = false;
        this._passThroughOptions = false;
        this._lifeCycleHooks = {};
        this._showHelpAfterError = false;
        this._showSuggestionAfterError = true;
        this._savedState = null;
        this._outputConfiguration = {
          writeOut: (str) => process2.stdout.write(str),
          writeErr: (str) => process2.stderr.write(str),
          outputError: (str, write) => write(str),
          getOutHelpWidth: () => process2.stdout.isTTY ? process2.stdout.columns : void 0,
          getErrHelpWidth: () => process2.stderr.isTTY ? process2.stderr.columns : void 0,
          getOutHasColors: () => useColor() ?? (process2.stdout.isTTY && process2.stdout.hasColors?.()),
          getErrHasColors: () => useColor() ?? (process2.stderr.isTTY && process2.stderr.hasColors?.()),
          stripColor: (str) => stripColor(str)
        };
        this._hidden = false;
        this._helpOption = void 0;
        this._addImplicitHelpCommand = void 0;
        this._helpCommand = void 0;
        this._helpConfiguration = {};
        this._helpGroupHeading = void 0;
        this._defaultCommandGroup = void 0;
        this._defaultOptionGroup = void 0;
      }
      /**
       * Copy settings that are useful to have in common across root command and subcommands.
       *
       * (Used internally when adding a command using `.command()` so subcommands inherit parent settings.)
       *
       * @param {Command} sourceCommand
       * @return {Command} `this` command for chaining
       */
      copyInheritedSettings(sourceCommand) {
        this._outputConfiguration = sourceCommand._outputConfiguration;
        this._helpOption = sourceCommand._helpOption;
        this._helpCommand = sourceCommand._helpCommand;
        this._helpConfiguration = sourceCommand._helpConfiguration;
        this._exitCallback = sourceCommand._exitCallback;
        this._storeOptionsAsProperties = sourceCommand._storeOptionsAsProperties;
        this._combineFlagAndOptionalValue = sourceCommand._combineFlagAndOptionalValue;
        this._allowExcessArguments = sourceCommand._allowExcessArguments;
        this._enablePositionalOptions = sourceCommand._enablePositionalOptions;
        this._showHelpAfterError = sourceCommand._showHelpAfterError;
        this._showSuggestionAfterError = sourceCommand._showSuggestionAfterError;
        return this;
      }
      /**
       * @returns {Command[]}
       * @private
       */
      _getCommandAndAncestors() {
        const result = [];
        for (let command = this; command; command = command.parent) {
          result.push(command);
        }
        return result;
      }
      /**
       * Define a command.
       *
       * There are two styles of command: pay attention to where to put the description.
       *
       * @example
       * // Command implemented using action handler (description is supplied separately to `.command`)
       * program
       *   .command('clone <source> [destination]')
       *   .description('clone a repository into a newly created directory')
       *   .action((source, destination) => {
       *     console.log('clone command called');
       *   });
       *
       * // Command implemented using separate executable file (description is second parameter to `.command`)
       * program
       *   .command('start <service>', 'start named service')
       *   .command('stop [service]', 'stop named service, or all if no name supplied');
       *
       * @param {string} nameAndArgs - command name and arguments, args are `<required>` or `[optional]` and last may also be `variadic...`
       * @param {(object | string)} [actionOptsOrExecDesc] - configuration options (for action), or description (for executable)
       * @param {object} [execOpts] - configuration options (for executable)
       * @return {Command} returns new command for action handler, or `this` for executable command
       */
      command(nameAndArgs, actionOptsOrExecDesc, execOpts) {
        let desc = actionOptsOrExecDesc;
        let opts2 = execOpts;
        if (typeof desc === "object" && desc !== null) {
          opts2 = desc;
          desc = null;
        }
        opts2 = opts2 || {};
        const [, name, args] = nameAndArgs.match(/([^ ]+) *(.*)/);
        const cmd = this.createCommand(name);
        if (desc) {
          cmd.description(desc);
          cmd._executableHandler = true;
        }
        if (opts2.isDefault) this._defaultCommandName = cmd._name;
        cmd._hidden = !!(opts2.noHelp || opts2.hidden);
        cmd._executableFile = opts2.executableFile || null;
        if (args) cmd.arguments(args);
        this._registerCommand(cmd);
        cmd.parent = this;
        cmd.copyInheritedSettings(this);
        if (desc) return this;
        return cmd;
      }
      /**
       * Factory routine to create a new unattached command.
       *
       * See .command() for creating an attached subcommand, which uses this routine to
       * create the command. You can override createCommand to customise subcommands.
       *
       * @param {string} [name]
       * @return {Command} new command
       */
      createCommand(name) {
        return new _Command(name);
      }
      /**
       * You can customise the help with a subclass of Help by overriding createHelp,
       * or by overriding Help properties using configureHelp().
       *
       * @return {Help}
       */
      createHelp() {
        return Object.assign(new Help2(), this.configureHelp());
      }
      /**
       * You can customise the help by overriding Help properties using configureHelp(),
       * or with a subclass of Help by overriding createHelp().
       *
       * @param {object} [configuration] - configuration options
       * @return {(Command | object)} `this` command for chaining, or stored configuration
       */
      configureHelp(configuration) {
        if (configuration === void 0) return this._helpConfiguration;
        this._helpConfiguration = configuration;
        return this;
      }
      /**
       * The default output goes to stdout and stderr. You can customise this for special
       * applications. You can also customise the display of errors by overriding outputError.
       *
       * The configuration properties are all functions:
       *
       *     // change how output being written, defaults to stdout and stderr
       *     writeOut(str)
       *     writeErr(str)
       *     // change how output being written for errors, defaults to writeErr
       *     outputError(str, write) // used for displaying errors and not used for displaying help
       *     // specify width for wrapping help
       *     getOutHelpWidth()
       *     getErrHelpWidth()
       *     // color support, currently only used with Help
       *     getOutHasColors()
       *     getErrHasColors()
       *     stripColor() // used to remove ANSI escape codes if output does not have colors
       *
       * @param {object} [configuration] - configuration options
       * @return {(Command | object)} `this` command for chaining, or stored configuration
       */
      configureOutput(configuration) {
        if (configuration === void 0) return this._outputConfiguration;
        this._outputConfiguration = {
          ...this._outputConfiguration,
          ...configuration
        };
        return this;
      }
      /**
       * Display the help or a custom message after an error occurs.
       *
       * @param {(boolean|string)} [displayHelp]
       * @return {Command} `this` command for chaining
       */
      showHelpAfterError(displayHelp = true) {
        if (typeof displayHelp !== "string") displayHelp = !!displayHelp;
        this._showHelpAfterError = displayHelp;
        return this;
      }
      /**
       * Display suggestion of similar commands for unknown commands, or options for unknown options.
       *
       * @param {boolean} [displaySuggestion]
       * @return {Command} `this` command for chaining
       */
      showSuggestionAfterError(displaySuggestion = true) {
        this._showSuggestionAfterError = !!displaySuggestion;
        return this;
      }
      /**
       * Add a prepared subcommand.
       *
       * See .command() for creating an attached subcommand which inherits settings from its parent.
       *
       * @param {Command} cmd - new subcommand
       * @param {object} [opts] - configuration options
       * @return {Command} `this` command for chaining
       */
      addCommand(cmd, opts2) {
        if (!cmd._name) {
          throw new Error(`Command passed to .addCommand() must have a name
- specify the name in Command constructor or using .name()`);
        }
        opts2 = opts2 || {};
        if (opts2.isDefault) this._defaultCommandName = cmd._name;
        if (opts2.noHelp || opts2.hidden) cmd._hidden = true;
        this._registerCommand(cmd);
        cmd.parent = this;
        cmd._checkForBrokenPassThrough();
        return this;
      }
      /**
       * Factory routine to create a new unattached argument.
       *
       * See .argument() for creating an attached argument, which uses this routine to
       * create the argument. You can override createArgument to return a custom argument.
       *
       * @param {string} name
       * @param {string} [description]
       * @return {Argument} new argument
       */
      createArgument(name, description) {
        return new Argument2(name, description);
      }
      /**
       * Define argument syntax for command.
       *
       * The default is that the argument is required, and you can explicitly
       * indicate this with <> around the name. Put [] around the name for an optional argument.
       *
       * @example
       * program.argument('<input-file>');
       * program.argument('[output-file]');
       *
       * @param {string} name
       * @param {string} [description]
       * @param {(Function|*)} [parseArg] - custom argument processing function or default value
       * @param {*} [defaultValue]
       * @return {Command} `this` command for chaining
       */
      argument(name, description, parseArg, defaultValue) {
        const argument = this.createArgument(name, description);
        if (typeof parseArg === "function") {
          argument.default(defaultValue).argParser(parseArg);
        } else {
          argument.default(parseArg);
        }
        this.addArgument(argument);
        return this;
      }
      /**
       * Define argument syntax for command, adding multiple at once (without descriptions).
       *
       * See also .argument().
       *
       * @example
       * program.arguments('<cmd> [env]');
       *
       * @param {string} names
       * @return {Command} `this` command for chaining
       */
      arguments(names) {
        names.trim().split(/ +/).forEach((detail) => {
          this.argument(detail);
        });
        return this;
      }
      /**
       * Define argument syntax for command, adding a prepared argument.
       *
       * @param {Argument} argument
       * @return {Command} `this` command for chaining
       */
      addArgument(argument) {
        const previousArgument = this.registeredArguments.slice(-1)[0];
        if (previousArgument?.variadic) {
          throw new Error(
            `only the last argument can be variadic '${previousArgument.name()}'`
          );
        }
        if (argument.required && argument.defaultValue !== void 0 && argument.parseArg === void 0) {
          throw new Error(
            `a default value for a required argument is never used: '${argument.name()}'`
          );
        }
        this.registeredArguments.push(argument);
        return this;
      }
      /**
       * Customise or override default help command. By default a help command is automatically added if your command has subcommands.
       *
       * @example
       *    program.helpCommand('help [cmd]');
       *    program.helpCommand('help [cmd]', 'show help');
       *    program.helpCommand(false); // suppress default help command
       *    program.helpCommand(true); // add help command even if no subcommands
       *
       * @param {string|boolean} enableOrNameAndArgs - enable with custom name and/or arguments, or boolean to override whether added
       * @param {string} [description] - custom description
       * @return {Command} `this` command for chaining
       */
      helpCommand(enableOrNameAndArgs, description) {
        if (typeof enableOrNameAndArgs === "boolean") {
          this._addImplicitHelpCommand = enableOrNameAndArgs;
          if (enableOrNameAndArgs && this._defaultCommandGroup) {
            this._initCommandGroup(this._getHelpCommand());
          }
          return this;
        }
        const nameAndArgs = enableOrNameAndArgs ?? "help [command]";
        const [, helpName, helpArgs] = nameAndArgs.match(/([^ ]+) *(.*)/);
        const helpDescription = description ?? "display help for command";
        const helpCommand = this.createCommand(helpName);
        helpCommand.helpOption(false);
        if (helpArgs) helpCommand.arguments(helpArgs);
        if (helpDescription) helpCommand.description(helpDescription);
        this._addImplicitHelpCommand = true;
        this._helpCommand = helpCommand;
        if (enableOrNameAndArgs || description) this._initCommandGroup(helpCommand);
        return this;
      }
      /**
       * Add prepared custom help command.
       *
       * @param {(Command|string|boolean)} helpCommand - custom help command, or deprecated enableOrNameAndArgs as for `.helpCommand()`
       * @param {string} [deprecatedDescription] - deprecated custom description used with custom name only
       * @return {Command} `this` command for chaining
       */
      addHelpCommand(helpCommand, deprecatedDescription) {
        if (typeof helpCommand !== "object") {
          this.helpCommand(helpCommand, deprecatedDescription);
          return this;
        }
        this._addImplicitHelpCommand = true;
        this._helpCommand = helpCommand;
        this._initCommandGroup(helpCommand);
        return this;
      }
      /**
       * Lazy create help command.
       *
       * @return {(Command|null)}
       * @package
       */
      _getHelpCommand() {
        const hasImplicitHelpCommand = this._addImplicitHelpCommand ?? (this.commands.length && !this._actionHandler && !this._findCommand("help"));
        if (hasImplicitHelpCommand) {
          if (this._helpCommand === void 0) {
            this.helpCommand(void 0, void 0);
          }
          return this._helpCommand;
        }
        return null;
      }
      /**
       * Add hook for life cycle event.
       *
       * @param {string} event
       * @param {Function} listener
       * @return {Command} `this` command for chaining
       */
      hook(event, listener) {
        const allowedValues = ["preSubcommand", "preAction", "postAction"];
        if (!allowedValues.includes(event)) {
          throw new Error(`Unexpected value for event passed to hook : '${event}'.
Expecting one of '${allowedValues.join("', '")}'`);
        }
        if (this._lifeCycleHooks[event]) {
          this._lifeCycleHooks[event].push(listener);
        } else {
          this._lifeCycleHooks[event] = [listener];
        }
        return this;
      }
      /**
       * Register callback to use as replacement for calling process.exit.
       *
       * @param {Function} [fn] optional callback which will be passed a CommanderError, defaults to throwing
       * @return {Command} `this` command for chaining
       */
      exitOverride(fn) {
        if (fn) {
          this._exitCallback = fn;
        } else {
          this._exitCallback = (err) => {
            if (err.code !== "commander.executeSubCommandAsync") {
              throw err;
            } else {
            }
          };
        }
        return this;
      }
      /**
       * Call process.exit, and _exitCallback if defined.
       *
       * @param {number} exitCode exit code for using with process.exit
       * @param {string} code an id string representing the error
       * @param {string} message human-readable description of the error
       * @return never
       * @private
       */
      _exit(exitCode, code, message) {
        if (this._exitCallback) {
          this._exitCallback(new CommanderError2(exitCode, code, message));
        }
        process2.exit(exitCode);
      }
      /**
       * Register callback `fn` for the command.
       *
       * @example
       * program
       *   .command('serve')
       *   .description('start service')
       *   .action(function() {
       *      // do work here
       *   });
       *
       * @param {Function} fn
       * @return {Command} `this` command for chaining
       */
      action(fn) {
        const listener = (args) => {
          const expectedArgsCount = this.registeredArguments.length;
          const actionArgs = args.slice(0, expectedArgsCount);
          if (this._storeOptionsAsProperties) {
            actionArgs[expectedArgsCount] = this;
          } else {
            actionArgs[expectedArgsCount] = this.opts();
          }
          actionArgs.push(this);
          return fn.apply(this, actionArgs);
        };
        this._actionHandler = listener;
        return this;
      }
      /**
       * Factory routine to create a new unattached option.
       *
       * See .option() for creating an attached option, which uses this routine to
       * create the option. You can override createOption to return a custom option.
       *
       * @param {string} flags
       * @param {string} [description]
       * @return {Option} new option
       */
      createOption(flags, description) {
        return new Option2(flags, description);
      }
      /**
       * Wrap parseArgs to catch 'commander.invalidArgument'.
       *
       * @param {(Option | Argument)} target
       * @param {string} value
       * @param {*} previous
       * @param {string} invalidArgumentMessage
       * @private
       */
      _callParseArg(target2, value, previous, invalidArgumentMessage) {
        try {
          return target2.parseArg(value, previous);
        } catch (err) {
          if (err.code === "commander.invalidArgument") {
            const message = `${invalidArgumentMessage} ${err.message}`;
            this.error(message, { exitCode: err.exitCode, code: err.code });
          }
          throw err;
        }
      }
      /**
       * Check for option flag conflicts.
       * Register option if no conflicts found, or throw on conflict.
       *
       * @param {Option} option
       * @private
       */
      _registerOption(option) {
        const matchingOption = option.short && this._findOption(option.short) || option.long && this._findOption(option.long);
        if (matchingOption) {
          const matchingFlag = option.long && this._findOption(option.long) ? option.long : option.short;
          throw new Error(`Cannot add option '${option.flags}'${this._name && ` to command '${this._name}'`} due to conflicting flag '${matchingFlag}'
-  already used by option '${matchingOption.flags}'`);
        }
        this._initOptionGroup(option);
        this.options.push(option);
      }
      /**
       * Check for command name and alias conflicts with existing commands.
       * Register command if no conflicts found, or throw on conflict.
       *
       * @param {Command} command
       * @private
       */
      _registerCommand(command) {
        const knownBy = (cmd) => {
          return [cmd.name()].concat(cmd.aliases());
        };
        const alreadyUsed = knownBy(command).find(
          (name) => this._findCommand(name)
        );
        if (alreadyUsed) {
          const existingCmd = knownBy(this._findCommand(alreadyUsed)).join("|");
          const newCmd = knownBy(command).join("|");
          throw new Error(
            `cannot add command '${newCmd}' as already have command '${existingCmd}'`
          );
        }
        this._initCommandGroup(command);
        this.commands.push(command);
      }
      /**
       * Add an option.
       *
       * @param {Option} option
       * @return {Command} `this` command for chaining
       */
      addOption(option) {
        this._registerOption(option);
        const oname = option.name();
        const name = option.attributeName();
        if (option.negate) {
          const positiveLongFlag = option.long.replace(/^--no-/, "--");
          if (!this._findOption(positiveLongFlag)) {
            this.setOptionValueWithSource(
              name,
              option.defaultValue === void 0 ? true : option.defaultValue,
              "default"
            );
          }
        } else if (option.defaultValue !== void 0) {
          this.setOptionValueWithSource(name, option.defaultValue, "default");
        }
        const handleOptionValue = (val, invalidValueMessage, valueSource) => {
          if (val == null && option.presetArg !== void 0) {
            val = option.presetArg;
          }
          const oldValue = this.getOptionValue(name);
          if (val !== null && option.parseArg) {
            val = this._callParseArg(option, val, oldValue, invalidValueMessage);
          } else if (val !== null && option.variadic) {
            val = option._collectValue(val, oldValue);
          }
          if (val == null) {
            if (option.negate) {
              val = false;
            } else if (option.isBoolean() || option.optional) {
              val = true;
            } else {
              val = "";
            }
          }
          this.setOptionValueWithSource(name, val, valueSource);
        };
        this.on("option:" + oname, (val) => {
          const invalidValueMessage = `error: option '${option.flags}' argument '${val}' is invalid.`;
          handleOptionValue(val, invalidValueMessage, "cli");
        });
        if (option.envVar) {
          this.on("optionEnv:" + oname, (val) => {
            const invalidValueMessage = `error: option '${option.flags}' value '${val}' from env '${option.envVar}' is invalid.`;
            handleOptionValue(val, invalidValueMessage, "env");
          });
        }
        return this;
      }
      /**
       * Internal implementation shared by .option() and .requiredOption()
       *
       * @return {Command} `this` command for chaining
       * @private
       */
      _optionEx(config, flags, description, fn, defaultValue) {
        if (typeof flags === "object" && flags instanceof Option2) {
          throw new Error(
            "To add an Option object use addOption() instead of option() or requiredOption()"
          );
        }
        const option = this.createOption(flags, description);
        option.makeOptionMandatory(!!config.mandatory);
        if (typeof fn === "function") {
          option.default(defaultValue).argParser(fn);
        } else if (fn instanceof RegExp) {
          const regex = fn;
          fn = (val, def) => {
            const m = regex.exec(val);
            return m ? m[0] : def;
          };
          option.default(defaultValue).argParser(fn);
        } else {
          option.default(fn);
        }
        return this.addOption(option);
      }
      /**
       * Define option with `flags`, `description`, and optional argument parsing function or `defaultValue` or both.
       *
       * The `flags` string contains the short and/or long flags, separated by comma, a pipe or space. A required
       * option-argument is indicated by `<>` and an optional option-argument by `[]`.
       *
       * See the README for more details, and see also addOption() and requiredOption().
       *
       * @example
       * program
       *     .option('-p, --pepper', 'add pepper')
       *     .option('--pt, --pizza-type <TYPE>', 'type of pizza') // required option-argument
       *     .option('-c, --cheese [CHEESE]', 'add extra cheese', 'mozzarella') // optional option-argument with default
       *     .option('-t, --tip <VALUE>', 'add tip to purchase cost', parseFloat) // custom parse function
       *
       * @param {string} flags
       * @param {string} [description]
       * @param {(Function|*)} [parseArg] - custom option processing function or default value
       * @param {*} [defaultValue]
       * @return {Command} `this` command for chaining
       */
      option(flags, description, parseArg, defaultValue) {
        return this._optionEx({}, flags, description, parseArg, defaultValue);
      }
      /**
       * Add a required option which must have a value after parsing. This usually means
       * the option must be specified on the command line. (Otherwise the same as .option().)
       *
       * The `flags` string contains the short and/or long flags, separated by comma, a pipe or space.
       *
       * @param {string} flags
       * @param {string} [description]
       * @param {(Function|*)} [parseArg] - custom option processing function or default value
       * @param {*} [defaultValue]
       * @return {Command} `this` command for chaining
       */
      requiredOption(flags, description, parseArg, defaultValue) {
        return this._optionEx(
          { mandatory: true },
          flags,
          description,
          parseArg,
          defaultValue
        );
      }
      /**
       * Alter parsing of short flags with optional values.
       *
       * @example
       * // for `.option('-f,--flag [value]'):
       * program.combineFlagAndOptionalValue(true);  // `-f80` is treated like `--flag=80`, this is the default behaviour
       * program.combineFlagAndOptionalValue(false) // `-fb` is treated like `-f -b`
       *
       * @param {boolean} [combine] - if `true` or omitted, an optional value can be specified directly after the flag.
       * @return {Command} `this` command for chaining
       */
      combineFlagAndOptionalValue(combine = true) {
        this._combineFlagAndOptionalValue = !!combine;
        return this;
      }
      /**
       * Allow unknown options on the command line.
       *
       * @param {boolean} [allowUnknown] - if `true` or omitted, no error will be thrown for unknown options.
       * @return {Command} `this` command for chaining
       */
      allowUnknownOption(allowUnknown = true) {
        this._allowUnknownOption = !!allowUnknown;
        return this;
      }
      /**
       * Allow excess command-arguments on the command line. Pass false to make excess arguments an error.
       *
       * @param {boolean} [allowExcess] - if `true` or omitted, no error will be thrown for excess arguments.
       * @return {Command} `this` command for chaining
       */
      allowExcessArguments(allowExcess = true) {
        this._allowExcessArguments = !!allowExcess;
        return this;
      }
      /**
       * Enable positional options. Positional means global options are specified before subcommands which lets
       * subcommands reuse the same option names, and also enables subcommands to turn on passThroughOptions.
       * The default behaviour is non-positional and global options may appear anywhere on the command line.
       *
       * @param {boolean} [positional]
       * @return {Command} `this` command for chaining
       */
      enablePositionalOptions(positional = true) {
        this._enablePositionalOptions = !!positional;
        return this;
      }
      /**
       * Pass through options that come after command-arguments rather than treat them as command-options,
       * so actual command-options come before command-arguments. Turning this on for a subcommand requires
       * positional options to have been enabled on the program (parent commands).
       * The default behaviour is non-positional and options may appear before or after command-arguments.
       *
       * @param {boolean} [passThrough] for unknown options.
       * @return {Command} `this` command for chaining
       */
      passThroughOptions(passThrough = true) {
        this._passThroughOptions = !!passThrough;
        this._checkForBrokenPassThrough();
        return this;
      }
      /**
       * @private
       */
      _checkForBrokenPassThrough() {
        if (this.parent && this._passThroughOptions && !this.parent._enablePositionalOptions) {
          throw new Error(
            `passThroughOptions cannot be used for '${this._name}' without turning on enablePositionalOptions for parent command(s)`
          );
        }
      }
      /**
       * Whether to store option values as properties on command object,
       * or store separately (specify false). In both cases the option values can be accessed using .opts().
       *
       * @param {boolean} [storeAsProperties=true]
       * @return {Command} `this` command for chaining
       */
      storeOptionsAsProperties(storeAsProperties = true) {
        if (this.options.length) {
          throw new Error("call .storeOptionsAsProperties() before adding options");
        }
        if (Object.keys(this._optionValues).length) {
          throw new Error(
            "call .storeOptionsAsProperties() before setting option values"
          );
        }
        this._storeOptionsAsProperties = !!storeAsProperties;
        return this;
      }
      /**
       * Retrieve option value.
       *
       * @param {string} key
       * @return {object} value
       */
      getOptionValue(key) {
        if (this._storeOptionsAsProperties) {
          return this[key];
        }
        return this._optionValues[key];
      }
      /**
       * Store option value.
       *
       * @param {string} key
       * @param {object} value
       * @return {Command} `this` command for chaining
       */
      setOptionValue(key, value) {
        return this.setOptionValueWithSource(key, value, void 0);
      }
      /**
       * Store option value and where the value came from.
       *
       * @param {string} key
       * @param {object} value
       * @param {string} source - expected values are default/config/env/cli/implied
       * @return {Command} `this` command for chaining
       */
      setOptionValueWithSource(key, value, source) {
        if (this._storeOptionsAsProperties) {
          this[key] = value;
        } else {
          this._optionValues[key] = value;
        }
        this._optionValueSources[key] = source;
        return this;
      }
      /**
       * Get source of option value.
       * Expected values are default | config | env | cli | implied
       *
       * @param {string} key
       * @return {string}
       */
      getOptionValueSource(key) {
        return this._optionValueSources[key];
      }
      /**
       * Get source of option value. See also .optsWithGlobals().
       * Expected values are default | config | env | cli | implied
       *
       * @param {string} key
       * @return {string}
       */
      getOptionValueSourceWithGlobals(key) {
        let source;
        this._getCommandAndAncestors().forEach((cmd) => {
          if (cmd.getOptionValueSource(key) !== void 0) {
            source = cmd.getOptionValueSource(key);
          }
        });
        return source;
      }
      /**
       * Get user arguments from implied or explicit arguments.
       * Side-effects: set _scriptPath if args included script. Used for default program name, and subcommand searches.
       *
       * @private
       */
      _prepareUserArgs(argv, parseOptions) {
        if (argv !== void 0 && !Array.isArray(argv)) {
          throw new Error("first parameter to parse must be array or undefined");
        }
        parseOptions = parseOptions || {};
        if (argv === void 0 && parseOptions.from === void 0) {
          if (process2.versions?.electron) {
            parseOptions.from = "electron";
          }
          const execArgv = process2.execArgv ?? [];
          if (execArgv.includes("-e") || execArgv.includes("--eval") || execArgv.includes("-p") || execArgv.includes("--print")) {
            parseOptions.from = "eval";
          }
        }
        if (argv === void 0) {
          argv = process2.argv;
        }
        this.rawArgs = argv.slice();
        let userArgs;
        switch (parseOptions.from) {
          case void 0:
          case "node":
            this._scriptPath = argv[1];
            userArgs = argv.slice(2);
            break;
          case "electron":
            if (process2.defaultApp) {
              this._scriptPath = argv[1];
              userArgs = argv.slice(2);
            } else {
              userArgs = argv.slice(1);
            }
            break;
          case "user":
            userArgs = argv.slice(0);
            break;
          case "eval":
            userArgs = argv.slice(1);
            break;
          default:
            throw new Error(
              `unexpected parse option { from: '${parseOptions.from}' }`
            );
        }
        if (!this._name && this._scriptPath)
          this.nameFromFilename(this._scriptPath);
        this._name = this._name || "program";
        return userArgs;
      }
      /**
       * Parse `argv`, setting options and invoking commands when defined.
       *
       * Use parseAsync instead of parse if any of your action handlers are async.
       *
       * Call with no parameters to parse `process.argv`. Detects Electron and special node options like `node --eval`. Easy mode!
       *
       * Or call with an array of strings to parse, and optionally where the user arguments start by specifying where the arguments are `from`:
       * - `'node'`: default, `argv[0]` is the application and `argv[1]` is the script being run, with user arguments after that
       * - `'electron'`: `argv[0]` is the application and `argv[1]` varies depending on whether the electron application is packaged
       * - `'user'`: just user arguments
       *
       * @example
       * program.parse(); // parse process.argv and auto-detect electron and special node flags
       * program.parse(process.argv); // assume argv[0] is app and argv[1] is script
       * program.parse(my-args, { from: 'user' }); // just user supplied arguments, nothing special about argv[0]
       *
       * @param {string[]} [argv] - optional, defaults to process.argv
       * @param {object} [parseOptions] - optionally specify style of options with from: node/user/electron
       * @param {string} [parseOptions.from] - where the args are from: 'node', 'user', 'electron'
       * @return {Command} `this` command for chaining
       */
      parse(argv, parseOptions) {
        this._prepareForParse();
        const userArgs = this._prepareUserArgs(argv, parseOptions);
        this._parseCommand([], userArgs);
        return this;
      }
      /**
       * Parse `argv`, setting options and invoking commands when defined.
       *
       * Call with no parameters to parse `process.argv`. Detects Electron and special node options like `node --eval`. Easy mode!
       *
       * Or call with an array of strings to parse, and optionally where the user arguments start by specifying where the arguments are `from`:
       * - `'node'`: default, `argv[0]` is the application and `argv[1]` is the script being run, with user arguments after that
       * - `'electron'`: `argv[0]` is the application and `argv[1]` varies depending on whether the electron application is packaged
       * - `'user'`: just user arguments
       *
       * @example
       * await program.parseAsync(); // parse process.argv and auto-detect electron and special node flags
       * await program.parseAsync(process.argv); // assume argv[0] is app and argv[1] is script
       * await program.parseAsync(my-args, { from: 'user' }); // just user supplied arguments, nothing special about argv[0]
       *
       * @param {string[]} [argv]
       * @param {object} [parseOptions]
       * @param {string} parseOptions.from - where the args are from: 'node', 'user', 'electron'
       * @return {Promise}
       */
      async parseAsync(argv, parseOptions) {
        this._prepareForParse();
        const userArgs = this._prepareUserArgs(argv, parseOptions);
        await this._parseCommand([], userArgs);
        return this;
      }
      _prepareForParse() {
        if (this._savedState === null) {
          this.saveStateBeforeParse();
        } else {
          this.restoreStateBeforeParse();
        }
      }
      /**
       * Called the first time parse is called to save state and allow a restore before subsequent calls to parse.
       * Not usually called directly, but available for subclasses to save their custom state.
       *
       * This is called in a lazy way. Only commands used in parsing chain will have state saved.
       */
      saveStateBeforeParse() {
        this._savedState = {
          // name is stable if supplied by author, but may be unspecified for root command and deduced during parsing
          _name: this._name,
          // option values before parse have default values (including false for negated options)
          // shallow clones
          _optionValues: { ...this._optionValues },
          _optionValueSources: { ...this._optionValueSources }
        };
      }
      /**
       * Restore state before parse for calls after the first.
       * Not usually called directly, but available for subclasses to save their custom state.
       *
       * This is called in a lazy way. Only commands used in parsing chain will have state restored.
       */
      restoreStateBeforeParse() {
        if (this._storeOptionsAsProperties)
          throw new Error(`Can not call parse again when storeOptionsAsProperties is true.
- either make a new Command for each call to parse, or stop storing options as properties`);
        this._name = this._savedState._name;
        this._scriptPath = null;
        this.rawArgs = [];
        this._optionValues = { ...this._savedState._optionValues };
        this._optionValueSources = { ...this._savedState._optionValueSources };
        this.args = [];
        this.processedArgs = [];
      }
      /**
       * Throw if expected executable is missing. Add lots of help for author.
       *
       * @param {string} executableFile
       * @param {string} executableDir
       * @param {string} subcommandName
       */
      _checkForMissingExecutable(executableFile, executableDir, subcommandName) {
        if (fs.existsSync(executableFile)) return;
        const executableDirMessage = executableDir ? `searched for local subcommand relative to directory '${executableDir}'` : "no directory for search for local subcommand, use .executableDir() to supply a custom directory";
        const executableMissing = `'${executableFile}' does not exist
 - if '${subcommandName}' is not meant to be an executable command, remove description parameter from '.command()' and use '.description()' instead
 - if the default executable name is not suitable, use the executableFile option to supply a custom name or path
 - ${executableDirMessage}`;
        throw new Error(executableMissing);
      }
      /**
       * Execute a sub-command executable.
       *
       * @private
       */
      _executeSubCommand(subcommand, args) {
        args = args.slice();
        let launchWithNode = false;
        const sourceExt = [".js", ".ts", ".tsx", ".mjs", ".cjs"];
        function findFile(baseDir, baseName) {
          const localBin = path.resolve(baseDir, baseName);
          if (fs.existsSync(localBin)) return localBin;
          if (sourceExt.includes(path.extname(baseName))) return void 0;
          const foundExt = sourceExt.find(
            (ext) => fs.existsSync(`${localBin}${ext}`)
          );
          if (foundExt) return `${localBin}${foundExt}`;
          return void 0;
        }
        this._checkForMissingMandatoryOptions();
        this._checkForConflictingOptions();
        let executableFile = subcommand._executableFile || `${this._name}-${subcommand._name}`;
        let executableDir = this._executableDir || "";
        if (this._scriptPath) {
          let resolvedScriptPath;
          try {
            resolvedScriptPath = fs.realpathSync(this._scriptPath);
          } catch {
            resolvedScriptPath = this._scriptPath;
          }
          executableDir = path.resolve(
            path.dirname(resolvedScriptPath),
            executableDir
          );
        }
        if (executableDir) {
          let localFile = findFile(executableDir, executableFile);
          if (!localFile && !subcommand._executableFile && this._scriptPath) {
            const legacyName = path.basename(
              this._scriptPath,
              path.extname(this._scriptPath)
            );
            if (legacyName !== this._name) {
              localFile = findFile(
                executableDir,
                `${legacyName}-${subcommand._name}`
              );
            }
          }
          executableFile = localFile || executableFile;
        }
        launchWithNode = sourceExt.includes(path.extname(executableFile));
        let proc;
        if (process2.platform !== "win32") {
          if (launchWithNode) {
            args.unshift(executableFile);
            args = incrementNodeInspectorPort(process2.execArgv).concat(args);
            proc = childProcess.spawn(process2.argv[0], args, { stdio: "inherit" });
          } else {
            proc = childProcess.spawn(executableFile, args, { stdio: "inherit" });
          }
        } else {
          this._checkForMissingExecutable(
            executableFile,
            executableDir,
            subcommand._name
          );
          args.unshift(executableFile);
          args = incrementNodeInspectorPort(process2.execArgv).concat(args);
          proc = childProcess.spawn(process2.execPath, args, { stdio: "inherit" });
        }
        if (!proc.killed) {
          const signals = ["SIGUSR1", "SIGUSR2", "SIGTERM", "SIGINT", "SIGHUP"];
          signals.forEach((signal) => {
            process2.on(signal, () => {
              if (proc.killed === false && proc.exitCode === null) {
                proc.kill(signal);
              }
            });
          });
        }
        const exitCallback = this._exitCallback;
        proc.on("close", (code) => {
          code = code ?? 1;
          if (!exitCallback) {
            process2.exit(code);
          } else {
            exitCallback(
              new CommanderError2(
                code,
                "commander.executeSubCommandAsync",
                "(close)"
              )
            );
          }
        });
        proc.on("error", (err) => {
          if (err.code === "ENOENT") {
            this._checkForMissingExecutable(
              executableFile,
              executableDir,
              subcommand._name
            );
          } else if (err.code === "EACCES") {
            throw new Error(`'${executableFile}' not executable`);
          }
          if (!exitCallback) {
            process2.exit(1);
          } else {
            const wrappedError = new CommanderError2(
              1,
              "commander.executeSubCommandAsync",
              "(error)"
            );
            wrappedError.nestedError = err;
            exitCallback(wrappedError);
          }
        });
        this.runningCommand = proc;
      }
      /**
       * @private
       */
      _dispatchSubcommand(commandName, operands, unknown) {
        const subCommand = this._findCommand(commandName);
        if (!subCommand) this.help({ error: true });
        subCommand._prepareForParse();
        let promiseChain;
        promiseChain = this._chainOrCallSubCommandHook(
          promiseChain,
          subCommand,
          "preSubcommand"
        );
        promiseChain = this._chainOrCall(promiseChain, () => {
          if (subCommand._executableHandler) {
            this._executeSubCommand(subCommand, operands.concat(unknown));
          } else {
            return subCommand._parseCommand(operands, unknown);
          }
        });
        return promiseChain;
      }
      /**
       * Invoke help directly if possible, or dispatch if necessary.
       * e.g. help foo
       *
       * @private
       */
      _dispatchHelpCommand(subcommandName) {
        if (!subcommandName) {
          this.help();
        }
        const subCommand = this._findCommand(subcommandName);
        if (subCommand && !subCommand._executableHandler) {
          subCommand.help();
        }
        return this._dispatchSubcommand(
          subcommandName,
          [],
          [this._getHelpOption()?.long ?? this._getHelpOption()?.short ?? "--help"]
        );
      }
      /**
       * Check this.args against expected this.registeredArguments.
       *
       * @private
       */
      _checkNumberOfArguments() {
        this.registeredArguments.forEach((arg, i) => {
          if (arg.required && this.args[i] == null) {
            this.missingArgument(arg.name());
          }
        });
        if (this.registeredArguments.length > 0 && this.registeredArguments[this.registeredArguments.length - 1].variadic) {
          return;
        }
        if (this.args.length > this.registeredArguments.length) {
          this._excessArguments(this.args);
        }
      }
      /**
       * Process this.args using this.registeredArguments and save as this.processedArgs!
       *
       * @private
       */
      _processArguments() {
        const myParseArg = (argument, value, previous) => {
          let parsedValue = value;
          if (value !== null && argument.parseArg) {
            const invalidValueMessage = `error: command-argument value '${value}' is invalid for argument '${argument.name()}'.`;
            parsedValue = this._callParseArg(
              argument,
              value,
              previous,
              invalidValueMessage
            );
          }
          return parsedValue;
        };
        this._checkNumberOfArguments();
        const processedArgs = [];
        this.registeredArguments.forEach((declaredArg, index) => {
          let value = declaredArg.defaultValue;
          if (declaredArg.variadic) {
            if (index < this.args.length) {
              value = this.args.slice(index);
              if (declaredArg.parseArg) {
                value = value.reduce((processed, v) => {
                  return myParseArg(declaredArg, v, processed);
                }, declaredArg.defaultValue);
              }
            } else if (value === void 0) {
              value = [];
            }
          } else if (index < this.args.length) {
            value = this.args[index];
            if (declaredArg.parseArg) {
              value = myParseArg(declaredArg, value, declaredArg.defaultValue);
            }
          }
          processedArgs[index] = value;
        });
        this.processedArgs = processedArgs;
      }
      /**
       * Once we have a promise we chain, but call synchronously until then.
       *
       * @param {(Promise|undefined)} promise
       * @param {Function} fn
       * @return {(Promise|undefined)}
       * @private
       */
      _chainOrCall(promise, fn) {
        if (promise?.then && typeof promise.then === "function") {
          return promise.then(() => fn());
        }
        return fn();
      }
      /**
       *
       * @param {(Promise|undefined)} promise
       * @param {string} event
       * @return {(Promise|undefined)}
       * @private
       */
      _chainOrCallHooks(promise, event) {
        let result = promise;
        const hooks = [];
        this._getCommandAndAncestors().reverse().filter((cmd) => cmd._lifeCycleHooks[event] !== void 0).forEach((hookedCommand) => {
          hookedCommand._lifeCycleHooks[event].forEach((callback) => {
            hooks.push({ hookedCommand, callback });
          });
        });
        if (event === "postAction") {
          hooks.reverse();
        }
        hooks.forEach((hookDetail) => {
          result = this._chainOrCall(result, () => {
            return hookDetail.callback(hookDetail.hookedCommand, this);
          });
        });
        return result;
      }
      /**
       *
       * @param {(Promise|undefined)} promise
       * @param {Command} subCommand
       * @param {string} event
       * @return {(Promise|undefined)}
       * @private
       */
      _chainOrCallSubCommandHook(promise, subCommand, event) {
        let result = promise;
        if (this._lifeCycleHooks[event] !== void 0) {
          this._lifeCycleHooks[event].forEach((hook) => {
            result = this._chainOrCall(result, () => {
              return hook(this, subCommand);
            });
          });
        }
        return result;
      }
      /**
       * Process arguments in context of this command.
       * Returns action result, in case it is a promise.
       *
       * @private
       */
      _parseCommand(operands, unknown) {
        const parsed = this.parseOptions(unknown);
        this._parseOptionsEnv();
        this._parseOptionsImplied();
        operands = operands.concat(parsed.operands);
        unknown = parsed.unknown;
        this.args = operands.concat(unknown);
        if (operands && this._findCommand(operands[0])) {
          return this._dispatchSubcommand(operands[0], operands.slice(1), unknown);
        }
        if (this._getHelpCommand() && operands[0] === this._getHelpCommand().name()) {
          return this._dispatchHelpCommand(operands[1]);
        }
        if (this._defaultCommandName) {
          this._outputHelpIfRequested(unknown);
          return this._dispatchSubcommand(
            this._defaultCommandName,
            operands,
            unknown
          );
        }
        if (this.commands.length && this.args.length === 0 && !this._actionHandler && !this._defaultCommandName) {
          this.help({ error: true });
        }
        this._outputHelpIfRequested(parsed.unknown);
        this._checkForMissingMandatoryOptions();
        this._checkForConflictingOptions();
        const checkForUnknownOptions = () => {
          if (parsed.unknown.length > 0) {
            this.unknownOption(parsed.unknown[0]);
          }
        };
        const commandEvent = `command:${this.name()}`;
        if (this._actionHandler) {
          checkForUnknownOptions();
          this._processArguments();
          let promiseChain;
          promiseChain = this._chainOrCallHooks(promiseChain, "preAction");
          promiseChain = this._chainOrCall(
            promiseChain,
            () => this._actionHandler(this.processedArgs)
          );
          if (this.parent) {
            promiseChain = this._chainOrCall(promiseChain, () => {
              this.parent.emit(commandEvent, operands, unknown);
            });
          }
          promiseChain = this._chainOrCallHooks(promiseChain, "postAction");
          return promiseChain;
        }
        if (this.parent?.listenerCount(commandEvent)) {
          checkForUnknownOptions();
          this._processArguments();
          this.parent.emit(commandEvent, operands, unknown);
        } else if (operands.length) {
          if (this._findCommand("*")) {
            return this._dispatchSubcommand("*", operands, unknown);
          }
          if (this.listenerCount("command:*")) {
            this.emit("command:*", operands, unknown);
          } else if (this.commands.length) {
            this.unknownCommand();
          } else {
            checkForUnknownOptions();
            this._processArguments();
          }
        } else if (this.commands.length) {
          checkForUnknownOptions();
          this.help({ error: true });
        } else {
          checkForUnknownOptions();
          this._processArguments();
        }
      }
      /**
       * Find matching command.
       *
       * @private
       * @return {Command | undefined}
       */
      _findCommand(name) {
        if (!name) return void 0;
        return this.commands.find(
          (cmd) => cmd._name === name || cmd._aliases.includes(name)
        );
      }
      /**
       * Return an option matching `arg` if any.
       *
       * @param {string} arg
       * @return {Option}
       * @package
       */
      _findOption(arg) {
        return this.options.find((option) => option.is(arg));
      }
      /**
       * Display an error message if a mandatory option does not have a value.
       * Called after checking for help flags in leaf subcommand.
       *
       * @private
       */
      _checkForMissingMandatoryOptions() {
        this._getCommandAndAncestors().forEach((cmd) => {
          cmd.options.forEach((anOption) => {
            if (anOption.mandatory && cmd.getOptionValue(anOption.attributeName()) === void 0) {
              cmd.missingMandatoryOptionValue(anOption);
            }
          });
        });
      }
      /**
       * Display an error message if conflicting options are used together in this.
       *
       * @private
       */
      _checkForConflictingLocalOptions() {
        const definedNonDefaultOptions = this.options.filter((option) => {
          const optionKey = option.attributeName();
          if (this.getOptionValue(optionKey) === void 0) {
            return false;
          }
          return this.getOptionValueSource(optionKey) !== "default";
        });
        const optionsWithConflicting = definedNonDefaultOptions.filter(
          (option) => option.conflictsWith.length > 0
        );
        optionsWithConflicting.forEach((option) => {
          const conflictingAndDefined = definedNonDefaultOptions.find(
            (defined) => option.conflictsWith.includes(defined.attributeName())
          );
          if (conflictingAndDefined) {
            this._conflictingOption(option, conflictingAndDefined);
          }
        });
      }
      /**
       * Display an error message if conflicting options are used together.
       * Called after checking for help flags in leaf subcommand.
       *
       * @private
       */
      _checkForConflictingOptions() {
        this._getCommandAndAncestors().forEach((cmd) => {
          cmd._checkForConflictingLocalOptions();
        });
      }
      /**
       * Parse options from `argv` removing known options,
       * and return argv split into operands and unknown arguments.
       *
       * Side effects: modifies command by storing options. Does not reset state if called again.
       *
       * Examples:
       *
       *     argv => operands, unknown
       *     --known kkk op => [op], []
       *     op --known kkk => [op], []
       *     sub --unknown uuu op => [sub], [--unknown uuu op]
       *     sub -- --unknown uuu op => [sub --unknown uuu op], []
       *
       * @param {string[]} args
       * @return {{operands: string[], unknown: string[]}}
       */
      parseOptions(args) {
        const operands = [];
        const unknown = [];
        let dest = operands;
        function maybeOption(arg) {
          return arg.length > 1 && arg[0] === "-";
        }
        const negativeNumberArg = (arg) => {
          if (!/^-(\d+|\d*\.\d+)(e[+-]?\d+)?$/.test(arg)) return false;
          return !this._getCommandAndAncestors().some(
            (cmd) => cmd.options.map((opt) => opt.short).some((short) => /^-\d$/.test(short))
          );
        };
        let activeVariadicOption = null;
        let activeGroup = null;
        let i = 0;
        while (i < args.length || activeGroup) {
          const arg = activeGroup ?? args[i++];
          activeGroup = null;
          if (arg === "--") {
            if (dest === unknown) dest.push(arg);
            dest.push(...args.slice(i));
            break;
          }
          if (activeVariadicOption && (!maybeOption(arg) || negativeNumberArg(arg))) {
            this.emit(`option:${activeVariadicOption.name()}`, arg);
            continue;
          }
          activeVariadicOption = null;
          if (maybeOption(arg)) {
            const option = this._findOption(arg);
            if (option) {
              if (option.required) {
                const value = args[i++];
                if (value === void 0) this.optionMissingArgument(option);
                this.emit(`option:${option.name()}`, value);
              } else if (option.optional) {
                let value = null;
                if (i < args.length && (!maybeOption(args[i]) || negativeNumberArg(args[i]))) {
                  value = args[i++];
                }
                this.emit(`option:${option.name()}`, value);
              } else {
                this.emit(`option:${option.name()}`);
              }
              activeVariadicOption = option.variadic ? option : null;
              continue;
            }
          }
          if (arg.length > 2 && arg[0] === "-" && arg[1] !== "-") {
            const option = this._findOption(`-${arg[1]}`);
            if (option) {
              if (option.required || option.optional && this._combineFlagAndOptionalValue) {
                this.emit(`option:${option.name()}`, arg.slice(2));
              } else {
                this.emit(`option:${option.name()}`);
                activeGroup = `-${arg.slice(2)}`;
              }
              continue;
            }
          }
          if (/^--[^=]+=/.test(arg)) {
            const index = arg.indexOf("=");
            const option = this._findOption(arg.slice(0, index));
            if (option && (option.required || option.optional)) {
              this.emit(`option:${option.name()}`, arg.slice(index + 1));
              continue;
            }
          }
          if (dest === operands && maybeOption(arg) && !(this.commands.length === 0 && negativeNumberArg(arg))) {
            dest = unknown;
          }
          if ((this._enablePositionalOptions || this._passThroughOptions) && operands.length === 0 && unknown.length === 0) {
            if (this._findCommand(arg)) {
              operands.push(arg);
              unknown.push(...args.slice(i));
              break;
            } else if (this._getHelpCommand() && arg === this._getHelpCommand().name()) {
              operands.push(arg, ...args.slice(i));
              break;
            } else if (this._defaultCommandName) {
              unknown.push(arg, ...args.slice(i));
              break;
            }
          }
          if (this._passThroughOptions) {
            dest.push(arg, ...args.slice(i));
            break;
          }
          dest.push(arg);
        }
        return { operands, unknown };
      }
      /**
       * Return an object containing local option values as key-value pairs.
       *
       * @return {object}
       */
      opts() {
        if (this._storeOptionsAsProperties) {
          const result = {};
          const len = this.options.length;
          for (let i = 0; i < len; i++) {
            const key = this.options[i].attributeName();
            result[key] = key === this._versionOptionName ? this._version : this[key];
          }
          return result;
        }
        return this._optionValues;
      }
      /**
       * Return an object containing merged local and global option values as key-value pairs.
       *
       * @return {object}
       */
      optsWithGlobals() {
        return this._getCommandAndAncestors().reduce(
          (combinedOptions, cmd) => Object.assign(combinedOptions, cmd.opts()),
          {}
        );
      }
      /**
       * Display error message and exit (or call exitOverride).
       *
       * @param {string} message
       * @param {object} [errorOptions]
       * @param {string} [errorOptions.code] - an id string representing the error
       * @param {number} [errorOptions.exitCode] - used with process.exit
       */
      error(message, errorOptions) {
        this._outputConfiguration.outputError(
          `${message}
`,
          this._outputConfiguration.writeErr
        );
        if (typeof this._showHelpAfterError === "string") {
          this._outputConfiguration.writeErr(`${this._showHelpAfterError}
`);
        } else if (this._showHelpAfterError) {
          this._outputConfiguration.writeErr("\n");
          this.outputHelp({ error: true });
        }
        const config = errorOptions || {};
        const exitCode = config.exitCode || 1;
        const code = config.code || "commander.error";
        this._exit(exitCode, code, message);
      }
      /**
       * Apply any option related environment variables, if option does
       * not have a value from cli or client code.
       *
       * @private
       */
      _parseOptionsEnv() {
        this.options.forEach((option) => {
          if (option.envVar && option.envVar in process2.env) {
            const optionKey = option.attributeName();
            if (this.getOptionValue(optionKey) === void 0 || ["default", "config", "env"].includes(
              this.getOptionValueSource(optionKey)
            )) {
              if (option.required || option.optional) {
                this.emit(`optionEnv:${option.name()}`, process2.env[option.envVar]);
              } else {
                this.emit(`optionEnv:${option.name()}`);
              }
            }
          }
        });
      }
      /**
       * Apply any implied option values, if option is undefined or default value.
       *
       * @private
       */
      _parseOptionsImplied() {
        const dualHelper = new DualOptions(this.options);
        const hasCustomOptionValue = (optionKey) => {
          return this.getOptionValue(optionKey) !== void 0 && !["default", "implied"].includes(this.getOptionValueSource(optionKey));
        };
        this.options.filter(
          (option) => option.implied !== void 0 && hasCustomOptionValue(option.attributeName()) && dualHelper.valueFromOption(
            this.getOptionValue(option.attributeName()),
            option
          )
        ).forEach((option) => {
          Object.keys(option.implied).filter((impliedKey) => !hasCustomOptionValue(impliedKey)).forEach((impliedKey) => {
            this.setOptionValueWithSource(
              impliedKey,
              option.implied[impliedKey],
              "implied"
            );
          });
        });
      }
      /**
       * Argument `name` is missing.
       *
       * @param {string} name
       * @private
       */
      missingArgument(name) {
        const message = `error: missing required argument '${name}'`;
        this.error(message, { code: "commander.missingArgument" });
      }
      /**
       * `Option` is missing an argument.
       *
       * @param {Option} option
       * @private
       */
      optionMissingArgument(option) {
        const message = `error: option '${option.flags}' argument missing`;
        this.error(message, { code: "commander.optionMissingArgument" });
      }
      /**
       * `Option` does not have a value, and is a mandatory option.
       *
       * @param {Option} option
       * @private
       */
      missingMandatoryOptionValue(option) {
        const message = `error: required option '${option.flags}' not specified`;
        this.error(message, { code: "commander.missingMandatoryOptionValue" });
      }
      /**
       * `Option` conflicts with another option.
       *
       * @param {Option} option
       * @param {Option} conflictingOption
       * @private
       */
      _conflictingOption(option, conflictingOption) {
        const findBestOptionFromValue = (option2) => {
          const optionKey = option2.attributeName();
          const optionValue = this.getOptionValue(optionKey);
          const negativeOption = this.options.find(
            (target2) => target2.negate && optionKey === target2.attributeName()
          );
          const positiveOption = this.options.find(
            (target2) => !target2.negate && optionKey === target2.attributeName()
          );
          if (negativeOption && (negativeOption.presetArg === void 0 && optionValue === false || negativeOption.presetArg !== void 0 && optionValue === negativeOption.presetArg)) {
            return negativeOption;
          }
          return positiveOption || option2;
        };
        const getErrorMessage = (option2) => {
          const bestOption = findBestOptionFromValue(option2);
          const optionKey = bestOption.attributeName();
          const source = this.getOptionValueSource(optionKey);
          if (source === "env") {
            return `environment variable '${bestOption.envVar}'`;
          }
          return `option '${bestOption.flags}'`;
        };
        const message = `error: ${getErrorMessage(option)} cannot be used with ${getErrorMessage(conflictingOption)}`;
        this.error(message, { code: "commander.conflictingOption" });
      }
      /**
       * Unknown option `flag`.
       *
       * @param {string} flag
       * @private
       */
      unknownOption(flag) {
        if (this._allowUnknownOption) return;
        let suggestion = "";
        if (flag.startsWith("--") && this._showSuggestionAfterError) {
          let candidateFlags = [];
          let command = this;
          do {
            const moreFlags = command.createHelp().visibleOptions(command).filter((option) => option.long).map((option) => option.long);
            candidateFlags = candidateFlags.concat(moreFlags);
            command = command.parent;
          } while (command && !command._enablePositionalOptions);
          suggestion = suggestSimilar(flag, candidateFlags);
        }
        const message = `error: unknown option '${flag}'${suggestion}`;
        this.error(message, { code: "commander.unknownOption" });
      }
      /**
       * Excess arguments, more than expected.
       *
       * @param {string[]} receivedArgs
       * @private
       */
      _excessArguments(receivedArgs) {
        if (this._allowExcessArguments) return;
        const expected = this.registeredArguments.length;
        const s = expected === 1 ? "" : "s";
        const forSubcommand = this.parent ? ` for '${this.name()}'` : "";
        const message = `error: too many arguments${forSubcommand}. Expected ${expected} argument${s} but got ${receivedArgs.length}.`;
        this.error(message, { code: "commander.excessArguments" });
      }
      /**
       * Unknown command.
       *
       * @private
       */
      unknownCommand() {
        const unknownName = this.args[0];
        let suggestion = "";
        if (this._showSuggestionAfterError) {
          const candidateNames = [];
          this.createHelp().visibleCommands(this).forEach((command) => {
            candidateNames.push(command.name());
            if (command.alias()) candidateNames.push(command.alias());
          });
          suggestion = suggestSimilar(unknownName, candidateNames);
        }
        const message = `error: unknown command '${unknownName}'${suggestion}`;
        this.error(message, { code: "commander.unknownCommand" });
      }
      /**
       * Get or set the program version.
       *
       * This method auto-registers the "-V, --version" option which will print the version number.
       *
       * You can optionally supply the flags and description to override the defaults.
       *
       * @param {string} [str]
       * @param {string} [flags]
       * @param {string} [description]
       * @return {(this | string | undefined)} `this` command for chaining, or version string if no arguments
       */
      version(str, flags, description) {
        if (str === void 0) return this._version;
        this._version = str;
        flags = flags || "-V, --version";
        description = description || "output the version number";
        const versionOption = this.createOption(flags, description);
        this._versionOptionName = versionOption.attributeName();
        this._registerOption(versionOption);
        this.on("option:" + versionOption.name(), () => {
          this._outputConfiguration.writeOut(`${str}
`);
          this._exit(0, "commander.version", str);
        });
        return this;
      }
      /**
       * Set the description.
       *
       * @param {string} [str]
       * @param {object} [argsDescription]
       * @return {(string|Command)}
       */
      description(str, argsDescription) {
        if (str === void 0 && argsDescription === void 0)
          return this._description;
        this._description = str;
        if (argsDescription) {
          this._argsDescription = argsDescription;
        }
        return this;
      }
      /**
       * Set the summary. Used when listed as subcommand of parent.
       *
       * @param {string} [str]
       * @return {(string|Command)}
       */
      summary(str) {
        if (str === void 0) return this._summary;
        this._summary = str;
        return this;
      }
      /**
       * Set an alias for the command.
       *
       * You may call more than once to add multiple aliases. Only the first alias is shown in the auto-generated help.
       *
       * @param {string} [alias]
       * @return {(string|Command)}
       */
      alias(alias) {
        if (alias === void 0) return this._aliases[0];
        let command = this;
        if (this.commands.length !== 0 && this.commands[this.commands.length - 1]._executableHandler) {
          command = this.commands[this.commands.length - 1];
        }
        if (alias === command._name)
          throw new Error("Command alias can't be the same as its name");
        const matchingCommand = this.parent?._findCommand(alias);
        if (matchingCommand) {
          const existingCmd = [matchingCommand.name()].concat(matchingCommand.aliases()).join("|");
          throw new Error(
            `cannot add alias '${alias}' to command '${this.name()}' as already have command '${existingCmd}'`
          );
        }
        command._aliases.push(alias);
        return this;
      }
      /**
       * Set aliases for the command.
       *
       * Only the first alias is shown in the auto-generated help.
       *
       * @param {string[]} [aliases]
       * @return {(string[]|Command)}
       */
      aliases(aliases) {
        if (aliases === void 0) return this._aliases;
        aliases.forEach((alias) => this.alias(alias));
        return this;
      }
      /**
       * Set / get the command usage `str`.
       *
       * @param {string} [str]
       * @return {(string|Command)}
       */
      usage(str) {
        if (str === void 0) {
          if (this._usage) return this._usage;
          const args = this.registeredArguments.map((arg) => {
            return humanReadableArgName(arg);
          });
          return [].concat(
            this.options.length || this._helpOption !== null ? "[options]" : [],
            this.commands.length ? "[command]" : [],
            this.registeredArguments.length ? args : []
          ).join(" ");
        }
        this._usage = str;
        return this;
      }
      /**
       * Get or set the name of the command.
       *
       * @param {string} [str]
       * @return {(string|Command)}
       */
      name(str) {
        if (str === void 0) return this._name;
        this._name = str;
        return this;
      }
      /**
       * Set/get the help group heading for this subcommand in parent command's help.
       *
       * @param {string} [heading]
       * @return {Command | string}
       */
      helpGroup(heading) {
        if (heading === void 0) return this._helpGroupHeading ?? "";
        this._helpGroupHeading = heading;
        return this;
      }
      /**
       * Set/get the default help group heading for subcommands added to this command.
       * (This does not override a group set directly on the subcommand using .helpGroup().)
       *
       * @example
       * program.commandsGroup('Development Commands:);
       * program.command('watch')...
       * program.command('lint')...
       * ...
       *
       * @param {string} [heading]
       * @returns {Command | string}
       */
      commandsGroup(heading) {
        if (heading === void 0) return this._defaultCommandGroup ?? "";
        this._defaultCommandGroup = heading;
        return this;
      }
      /**
       * Set/get the default help group heading for options added to this command.
       * (This does not override a group set directly on the option using .helpGroup().)
       *
       * @example
       * program
       *   .optionsGroup('Development Options:')
       *   .option('-d, --debug', 'output extra debugging')
       *   .option('-p, --profile', 'output profiling information')
       *
       * @param {string} [heading]
       * @returns {Command | string}
       */
      optionsGroup(heading) {
        if (heading === void 0) return this._defaultOptionGroup ?? "";
        this._defaultOptionGroup = heading;
        return this;
      }
      /**
       * @param {Option} option
       * @private
       */
      _initOptionGroup(option) {
        if (this._defaultOptionGroup && !option.helpGroupHeading)
          option.helpGroup(this._defaultOptionGroup);
      }
      /**
       * @param {Command} cmd
       * @private
       */
      _initCommandGroup(cmd) {
        if (this._defaultCommandGroup && !cmd.helpGroup())
          cmd.helpGroup(this._defaultCommandGroup);
      }
      /**
       * Set the name of the command from script filename, such as process.argv[1],
       * or require.main.filename, or __filename.
       *
       * (Used internally and public although not documented in README.)
       *
       * @example
       * program.nameFromFilename(require.main.filename);
       *
       * @param {string} filename
       * @return {Command}
       */
      nameFromFilename(filename) {
        this._name = path.basename(filename, path.extname(filename));
        return this;
      }
      /**
       * Get or set the directory for searching for executable subcommands of this command.
       *
       * @example
       * program.executableDir(__dirname);
       * // or
       * program.executableDir('subcommands');
       *
       * @param {string} [path]
       * @return {(string|null|Command)}
       */
      executableDir(path2) {
        if (path2 === void 0) return this._executableDir;
        this._executableDir = path2;
        return this;
      }
      /**
       * Return program help documentation.
       *
       * @param {{ error: boolean }} [contextOptions] - pass {error:true} to wrap for stderr instead of stdout
       * @return {string}
       */
      helpInformation(contextOptions) {
        const helper = this.createHelp();
        const context = this._getOutputContext(contextOptions);
        helper.prepareContext({
          error: context.error,
          helpWidth: context.helpWidth,
          outputHasColors: context.hasColors
        });
        const text = helper.formatHelp(this, helper);
        if (context.hasColors) return text;
        return this._outputConfiguration.stripColor(text);
      }
      /**
       * @typedef HelpContext
       * @type {object}
       * @property {boolean} error
       * @property {number} helpWidth
       * @property {boolean} hasColors
       * @property {function} write - includes stripColor if needed
       *
       * @returns {HelpContext}
       * @private
       */
      _getOutputContext(contextOptions) {
        contextOptions = contextOptions || {};
        const error = !!contextOptions.error;
        let baseWrite;
        let hasColors;
        let helpWidth;
        if (error) {
          baseWrite = (str) => this._outputConfiguration.writeErr(str);
          hasColors = this._outputConfiguration.getErrHasColors();
          helpWidth = this._outputConfiguration.getErrHelpWidth();
        } else {
          baseWrite = (str) => this._outputConfiguration.writeOut(str);
          hasColors = this._outputConfiguration.getOutHasColors();
          helpWidth = this._outputConfiguration.getOutHelpWidth();
        }
        const write = (str) => {
          if (!hasColors) str = this._outputConfiguration.stripColor(str);
          return baseWrite(str);
        };
        return { error, write, hasColors, helpWidth };
      }
      /**
       * Output help information for this command.
       *
       * Outputs built-in help, and custom text added using `.addHelpText()`.
       *
       * @param {{ error: boolean } | Function} [contextOptions] - pass {error:true} to write to stderr instead of stdout
       */
      outputHelp(contextOptions) {
        let deprecatedCallback;
        if (typeof contextOptions === "function") {
          deprecatedCallback = contextOptions;
          contextOptions = void 0;
        }
        const outputContext = this._getOutputContext(contextOptions);
        const eventContext = {
          error: outputContext.error,
          write: outputContext.write,
          command: this
        };
        this._getCommandAndAncestors().reverse().forEach((command) => command.emit("beforeAllHelp", eventContext));
        this.emit("beforeHelp", eventContext);
        let helpInformation = this.helpInformation({ error: outputContext.error });
        if (deprecatedCallback) {
          helpInformation = deprecatedCallback(helpInformation);
          if (typeof helpInformation !== "string" && !Buffer.isBuffer(helpInformation)) {
            throw new Error("outputHelp callback must return a string or a Buffer");
          }
        }
        outputContext.write(helpInformation);
        if (this._getHelpOption()?.long) {
          this.emit(this._getHelpOption().long);
        }
        this.emit("afterHelp", eventContext);
        this._getCommandAndAncestors().forEach(
          (command) => command.emit("afterAllHelp", eventContext)
        );
      }
      /**
       * You can pass in flags and a description to customise the built-in help option.
       * Pass in false to disable the built-in help option.
       *
       * @example
       * program.helpOption('-?, --help' 'show help'); // customise
       * program.helpOption(false); // disable
       *
       * @param {(string | boolean)} flags
       * @param {string} [description]
       * @return {Command} `this` command for chaining
       */
      helpOption(flags, description) {
        if (typeof flags === "boolean") {
          if (flags) {
            if (this._helpOption === null) this._helpOption = void 0;
            if (this._defaultOptionGroup) {
              this._initOptionGroup(this._getHelpOption());
            }
          } else {
            this._helpOption = null;
          }
          return this;
        }
        this._helpOption = this.createOption(
          flags ?? "-h, --help",
          description ?? "display help for command"
        );
        if (flags || description) this._initOptionGroup(this._helpOption);
        return this;
      }
      /**
       * Lazy create help option.
       * Returns null if has been disabled with .helpOption(false).
       *
       * @returns {(Option | null)} the help option
       * @package
       */
      _getHelpOption() {
        if (this._helpOption === void 0) {
          this.helpOption(void 0, void 0);
        }
        return this._helpOption;
      }
      /**
       * Supply your own option to use for the built-in help option.
       * This is an alternative to using helpOption() to customise the flags and description etc.
       *
       * @param {Option} option
       * @return {Command} `this` command for chaining
       */
      addHelpOption(option) {
        this._helpOption = option;
        this._initOptionGroup(option);
        return this;
      }
      /**
       * Output help information and exit.
       *
       * Outputs built-in help, and custom text added using `.addHelpText()`.
       *
       * @param {{ error: boolean }} [contextOptions] - pass {error:true} to write to stderr instead of stdout
       */
      help(contextOptions) {
        this.outputHelp(contextOptions);
        let exitCode = Number(process2.exitCode ?? 0);
        if (exitCode === 0 && contextOptions && typeof contextOptions !== "function" && contextOptions.error) {
          exitCode = 1;
        }
        this._exit(exitCode, "commander.help", "(outputHelp)");
      }
      /**
       * // Do a little typing to coordinate emit and listener for the help text events.
       * @typedef HelpTextEventContext
       * @type {object}
       * @property {boolean} error
       * @property {Command} command
       * @property {function} write
       */
      /**
       * Add additional text to be displayed with the built-in help.
       *
       * Position is 'before' or 'after' to affect just this command,
       * and 'beforeAll' or 'afterAll' to affect this command and all its subcommands.
       *
       * @param {string} position - before or after built-in help
       * @param {(string | Function)} text - string to add, or a function returning a string
       * @return {Command} `this` command for chaining
       */
      addHelpText(position, text) {
        const allowedValues = ["beforeAll", "before", "after", "afterAll"];
        if (!allowedValues.includes(position)) {
          throw new Error(`Unexpected value for position to addHelpText.
Expecting one of '${allowedValues.join("', '")}'`);
        }
        const helpEvent = `${position}Help`;
        this.on(helpEvent, (context) => {
          let helpStr;
          if (typeof text === "function") {
            helpStr = text({ error: context.error, command: context.command });
          } else {
            helpStr = text;
          }
          if (helpStr) {
            context.write(`${helpStr}
`);
          }
        });
        return this;
      }
      /**
       * Output help information if help flags specified
       *
       * @param {Array} args - array of options to search for help flags
       * @private
       */
      _outputHelpIfRequested(args) {
        const helpOption = this._getHelpOption();
        const helpRequested = helpOption && args.find((arg) => helpOption.is(arg));
        if (helpRequested) {
          this.outputHelp();
          this._exit(0, "commander.helpDisplayed", "(outputHelp)");
        }
      }
    };
    function incrementNodeInspectorPort(args) {
      return args.map((arg) => {
        if (!arg.startsWith("--inspect")) {
          return arg;
        }
        let debugOption;
        let debugHost = "127.0.0.1";
        let debugPort = "9229";
        let match;
        if ((match = arg.match(/^(--inspect(-brk)?)$/)) !== null) {
          debugOption = match[1];
        } else if ((match = arg.match(/^(--inspect(-brk|-port)?)=([^:]+)$/)) !== null) {
          debugOption = match[1];
          if (/^\d+$/.test(match[3])) {
            debugPort = match[3];
          } else {
            debugHost = match[3];
          }
        } else if ((match = arg.match(/^(--inspect(-brk|-port)?)=([^:]+):(\d+)$/)) !== null) {
          debugOption = match[1];
          debugHost = match[3];
          debugPort = match[4];
        }
        if (debugOption && debugPort !== "0") {
          return `${debugOption}=${debugHost}:${parseInt(debugPort) + 1}`;
        }
        return arg;
      });
    }
    function useColor() {
      if (process2.env.NO_COLOR || process2.env.FORCE_COLOR === "0" || process2.env.FORCE_COLOR === "false")
        return false;
      if (process2.env.FORCE_COLOR || process2.env.CLICOLOR_FORCE !== void 0)
        return true;
      return void 0;
    }
    exports.Command = Command2;
    exports.useColor = useColor;
  }
});

// node_modules/commander/index.js
var require_commander = __commonJS({
  "node_modules/commander/index.js"(exports) {
    var { Argument: Argument2 } = require_argument();
    var { Command: Command2 } = require_command();
    var { CommanderError: CommanderError2, InvalidArgumentError: InvalidArgumentError2 } = require_error();
    var { Help: Help2 } = require_help();
    var { Option: Option2 } = require_option();
    exports.program = new Command2();
    exports.createCommand = (name) => new Command2(name);
    exports.createOption = (flags, description) => new Option2(flags, description);
    exports.createArgument = (name, description) => new Argument2(name, description);
    exports.Command = Command2;
    exports.Option = Option2;
    exports.Argument = Argument2;
    exports.Help = Help2;
    exports.CommanderError = CommanderError2;
    exports.InvalidArgumentError = InvalidArgumentError2;
    exports.InvalidOptionArgumentError = InvalidArgumentError2;
  }
});

// src/action/vpn-entry.ts
import { fileURLToPath as fileURLToPath5 } from "node:url";

// node_modules/commander/esm.mjs
var import_index = __toESM(require_commander(), 1);
var {
  program,
  createCommand,
  createArgument,
  createOption,
  CommanderError,
  InvalidArgumentError,
  InvalidOptionArgumentError,
  // deprecated old name
  Command,
  Argument,
  Option,
  Help
} = import_index.default;

// src/cli/main.ts
import { spawn as spawn4 } from "node:child_process";
import { closeSync as closeSync6 } from "node:fs";
import { fileURLToPath as fileURLToPath4 } from "node:url";

// src/client/tunnel.ts
import { randomBytes as randomBytes4 } from "node:crypto";
import { isIP as isIP9 } from "node:net";

// src/core/log.ts
var noop = () => void 0;
var NOOP_LOGGER = { debug: noop, info: noop, warn: noop, error: noop };

// src/ike/codec/types.ts
function isUnknown(p) {
  return "unknown" in p;
}
function findPayload(payloads, type) {
  for (const p of payloads) if (p.type === type && !isUnknown(p)) return p;
  return void 0;
}
function filterPayloads(payloads, type) {
  return payloads.filter((p) => p.type === type && !isUnknown(p));
}

// src/ike/codec/payloads.ts
var LAST = 0;
var MORE_PROPOSALS = 2;
var MORE_TRANSFORMS = 3;
function decodeAttributes(r) {
  const attrs = [];
  while (r.remaining > 0) {
    const t = r.u16("transform attribute type");
    if ((t & 32768) !== 0) {
      attrs.push({ type: t & 32767, value: r.u16("transform attribute value") });
    } else {
      const len = r.u16("transform attribute length");
      attrs.push({ type: t, value: r.copy(len, "transform attribute value") });
    }
  }
  return attrs;
}
function decodeTransform(r) {
  const start = r.offset;
  const last = r.u8("transform last substruc");
  if (last !== LAST && last !== MORE_TRANSFORMS) {
    throw new ParseError("transform", start, `last-substruc ${last} is neither 0 nor 3`);
  }
  r.skip(1);
  const len = r.u16("transform length");
  if (len < 8) throw new ParseError("transform", start, `length ${len} < 8`);
  const body = r.sub(len - 4, "transform");
  const type = body.u8("transform type");
  body.skip(1);
  const id = body.u16("transform id");
  return { t: { type, id, attributes: decodeAttributes(body) }, last };
}
function decodeSa(r) {
  const proposals = [];
  let last = MORE_PROPOSALS;
  while (last === MORE_PROPOSALS) {
    const start = r.offset;
    last = r.u8("proposal last substruc");
    if (last !== LAST && last !== MORE_PROPOSALS) {
      throw new ParseError("proposal", start, `last-substruc ${last} is neither 0 nor 2`);
    }
    r.skip(1);
    const len = r.u16("proposal length");
    if (len < 8) throw new ParseError("proposal", start, `length ${len} < 8`);
    const p = r.sub(len - 4, "proposal");
    const num = p.u8("proposal number");
    const protocol = p.u8("protocol id");
    const spiSize = p.u8("spi size");
    const count = p.u8("number of transforms");
    const spi = p.copy(spiSize, "proposal spi");
    const transforms = [];
    let tLast = count > 0 ? MORE_TRANSFORMS : LAST;
    for (let i = 0; i < count; i++) {
      if (tLast !== MORE_TRANSFORMS)
        throw new ParseError("proposal", p.offset, "transform marked last before the count");
      const d = decodeTransform(p);
      tLast = d.last;
      transforms.push(d.t);
    }
    if (tLast !== LAST)
      throw new ParseError("proposal", p.offset, "last transform not marked last");
    p.expectEnd("proposal");
    proposals.push({ num, protocol, spi, transforms });
  }
  r.expectEnd("SA payload");
  if (proposals.length === 0) throw new ParseError("SA payload", r.offset, "no proposals");
  return proposals;
}
function encodeSa(w, proposals) {
  proposals.forEach((p, pi) => {
    const pStart = w.pos;
    w.u8(pi === proposals.length - 1 ? LAST : MORE_PROPOSALS).u8(0).u16(0);
    w.u8(p.num).u8(p.protocol).u8(p.spi.length).u8(p.transforms.length).bytes(p.spi);
    p.transforms.forEach((t, ti) => {
      const tStart = w.pos;
      w.u8(ti === p.transforms.length - 1 ? LAST : MORE_TRANSFORMS).u8(0).u16(0);
      w.u8(t.type).u8(0).u16(t.id);
      for (const a of t.attributes) {
        if (typeof a.value === "number") w.u16(32768 | a.type).u16(a.value);
        else
          w.u16(a.type & 32767).u16(a.value.length).bytes(a.value);
      }
      w.patchU16(tStart + 2, w.pos - tStart);
    });
    w.patchU16(pStart + 2, w.pos - pStart);
  });
}
function decodeTs(r) {
  const count = r.u8("number of TSs");
  r.skip(3, "TS reserved");
  const out = [];
  for (let i = 0; i < count; i++) {
    const start = r.offset;
    const tsType = r.u8("TS type");
    const ipProtocol = r.u8("TS IP protocol");
    const len = r.u16("selector length");
    if (len < 4) throw new ParseError("traffic selector", start, `length ${len} < 4`);
    const s = r.sub(len - 4, "traffic selector");
    if (tsType === TsType.TS_IPV4_ADDR_RANGE || tsType === TsType.TS_IPV6_ADDR_RANGE) {
      const alen = tsType === TsType.TS_IPV4_ADDR_RANGE ? 4 : 16;
      if (len !== 8 + 2 * alen) {
        throw new ParseError(
          "traffic selector",
          start,
          `length ${len} for type ${tsType}, expected ${8 + 2 * alen}`
        );
      }
      const startPort = s.u16("start port");
      const endPort = s.u16("end port");
      out.push({
        tsType,
        ipProtocol,
        startPort,
        endPort,
        startAddr: s.copy(alen),
        endAddr: s.copy(alen)
      });
    } else {
      out.push({
        tsType,
        ipProtocol,
        startPort: 0,
        endPort: 0,
        startAddr: new Uint8Array(0),
        endAddr: new Uint8Array(0),
        raw: s.copy(s.remaining)
      });
    }
  }
  r.expectEnd("TS payload");
  return out;
}
function encodeTs(w, selectors) {
  w.u8(selectors.length).zeros(3);
  for (const s of selectors) {
    if (s.raw) {
      w.u8(s.tsType).u8(s.ipProtocol).u16(4 + s.raw.length).bytes(s.raw);
      continue;
    }
    w.u8(s.tsType).u8(s.ipProtocol).u16(8 + s.startAddr.length + s.endAddr.length);
    w.u16(s.startPort).u16(s.endPort).bytes(s.startAddr).bytes(s.endAddr);
  }
}
function decodeCp(r) {
  const cfgType = r.u8("CFG type");
  r.skip(3, "CP reserved");
  const attributes = [];
  while (r.remaining > 0) {
    const type = r.u16("CP attribute type") & 32767;
    const len = r.u16("CP attribute length");
    attributes.push({ type, value: r.copy(len, "CP attribute value") });
  }
  return { cfgType, attributes };
}
function decodeBody(type, critical, r, nextPayload) {
  switch (type) {
    case PayloadType.SA:
      return { type, critical, proposals: decodeSa(r) };
    case PayloadType.KE: {
      const dhGroup = r.u16("KE group");
      r.skip(2, "KE reserved");
      const data = r.copy(r.remaining);
      if (data.length === 0)
        throw new ParseError("KE payload", r.offset, "empty key exchange data");
      return { type, critical, dhGroup, data };
    }
    case PayloadType.IDi:
    case PayloadType.IDr: {
      const idType = r.u8("ID type");
      r.skip(3, "ID reserved");
      return { type, critical, idType, data: r.copy(r.remaining) };
    }
    case PayloadType.CERT:
      return { type, critical, encoding: r.u8("certificate encoding"), data: r.copy(r.remaining) };
    case PayloadType.CERTREQ:
      return { type, critical, encoding: r.u8("certificate encoding"), data: r.copy(r.remaining) };
    case PayloadType.AUTH: {
      const method = r.u8("auth method");
      r.skip(3, "AUTH reserved");
      return { type, critical, method, data: r.copy(r.remaining) };
    }
    case PayloadType.NONCE: {
      if (r.remaining < 16 || r.remaining > 256) {
        throw new ParseError(
          "Nonce payload",
          r.offset,
          `nonce of ${r.remaining} bytes (must be 16..256)`
        );
      }
      return { type, critical, data: r.copy(r.remaining) };
    }
    case PayloadType.NOTIFY: {
      const protocol = r.u8("notify protocol");
      const spiSize = r.u8("notify spi size");
      const notifyType = r.u16("notify type");
      const spi = r.copy(spiSize, "notify spi");
      return { type, critical, protocol, spi, notifyType, data: r.copy(r.remaining) };
    }
    case PayloadType.DELETE: {
      const start = r.offset;
      const protocol = r.u8("delete protocol");
      const spiSize = r.u8("delete spi size");
      const count = r.u16("number of SPIs");
      if (protocol === ProtocolId.IKE && (spiSize !== 0 || count !== 0)) {
        throw new ParseError(
          "Delete payload",
          start,
          "IKE delete must have SPI size 0 and no SPIs"
        );
      }
      if ((protocol === ProtocolId.ESP || protocol === ProtocolId.AH) && spiSize !== 4) {
        throw new ParseError("Delete payload", start, `SPI size ${spiSize} for ESP/AH`);
      }
      if (spiSize * count !== r.remaining) {
        throw new ParseError(
          "Delete payload",
          start,
          `${count} SPIs of ${spiSize} bytes vs ${r.remaining} bytes`
        );
      }
      const spis = [];
      for (let i = 0; i < count; i++) spis.push(r.copy(spiSize, "delete spi"));
      return { type, critical, protocol, spiSize, spis };
    }
    case PayloadType.VENDOR:
      return { type, critical, data: r.copy(r.remaining) };
    case PayloadType.TSi:
    case PayloadType.TSr:
      return { type, critical, selectors: decodeTs(r) };
    case PayloadType.SK:
      return { type, critical, firstInner: nextPayload, body: r.copy(r.remaining) };
    case PayloadType.CP:
      return { type, critical, ...decodeCp(r) };
    case PayloadType.EAP: {
      const start = r.offset;
      const data = r.copy(r.remaining);
      if (data.length < 4)
        throw new ParseError("EAP payload", start, `EAP packet of ${data.length} bytes`);
      const len = data[2] << 8 | data[3];
      if (len !== data.length)
        throw new ParseError("EAP payload", start, `EAP length ${len} != ${data.length}`);
      return { type, critical, data };
    }
    case PayloadType.SKF: {
      const start = r.offset;
      const fragmentNumber = r.u16("fragment number");
      const totalFragments = r.u16("total fragments");
      if (fragmentNumber < 1 || totalFragments < 1 || fragmentNumber > totalFragments) {
        throw new ParseError(
          "SKF payload",
          start,
          `fragment ${fragmentNumber} of ${totalFragments}`
        );
      }
      return {
        type,
        critical,
        firstInner: nextPayload,
        fragmentNumber,
        totalFragments,
        body: r.copy(r.remaining)
      };
    }
    default:
      return { type, critical, unknown: true, body: r.copy(r.remaining) };
  }
}
function encodeBody(w, p) {
  if ("unknown" in p) {
    w.bytes(p.body);
    return;
  }
  const k = p;
  switch (k.type) {
    case 33:
      encodeSa(w, k.proposals);
      return;
    case 34:
      w.u16(k.dhGroup).u16(0).bytes(k.data);
      return;
    case 35:
    case 36:
      w.u8(k.idType).zeros(3).bytes(k.data);
      return;
    case 37:
    case 38:
      w.u8(k.encoding).bytes(k.data);
      return;
    case 39:
      w.u8(k.method).zeros(3).bytes(k.data);
      return;
    case 40:
    case 43:
    case 48:
      w.bytes(k.data);
      return;
    case 41:
      w.u8(k.protocol).u8(k.spi.length).u16(k.notifyType).bytes(k.spi).bytes(k.data);
      return;
    case 42:
      w.u8(k.protocol).u8(k.spiSize).u16(k.spis.length);
      for (const s of k.spis) w.bytes(s);
      return;
    case 44:
    case 45:
      encodeTs(w, k.selectors);
      return;
    case 46:
      w.bytes(k.body);
      return;
    case 47:
      w.u8(k.cfgType).zeros(3);
      for (const a of k.attributes)
        w.u16(a.type & 32767).u16(a.value.length).bytes(a.value);
      return;
    case 53:
      w.u16(k.fragmentNumber).u16(k.totalFragments).bytes(k.body);
      return;
  }
}
function innerNext(p) {
  if (p.type === PayloadType.SK && !("unknown" in p)) return p.firstInner;
  if (p.type === PayloadType.SKF && !("unknown" in p)) return p.firstInner;
  return void 0;
}

// src/ike/codec/message.ts
var IKE_HEADER_LENGTH = 28;
var GENERIC_HEADER_LENGTH = 4;
function decodeHeader(bytes) {
  const r = new Reader(bytes);
  const spiI = r.copy(8, "IKE header");
  const spiR = r.copy(8, "IKE header");
  const nextPayload = r.u8("IKE header");
  const version = r.u8("IKE header");
  const exchangeType = r.u8("IKE header");
  const flags = r.u8("IKE header");
  const messageId = r.u32("IKE header");
  const length = r.u32("IKE header");
  if (version >> 4 !== 2)
    throw new ParseError("IKE header", 17, `major version ${version >> 4}, expected 2`);
  if (length < IKE_HEADER_LENGTH) throw new ParseError("IKE header", 24, `length ${length} < 28`);
  if (length > bytes.length)
    throw new ParseError("IKE header", 24, `length ${length} > datagram ${bytes.length}`);
  if (length < bytes.length)
    throw new ParseError("IKE message", length, `${bytes.length - length} trailing bytes`);
  return { spiI, spiR, nextPayload, version, exchangeType, flags, messageId, length };
}
function decodePayloadChain(first, bytes, baseOffset = 0) {
  const r = new Reader(bytes, 0, bytes.length, baseOffset);
  const out = [];
  let type = first;
  while (type !== PayloadType.NONE) {
    const start = r.offset;
    const next = r.u8("payload header");
    const flags = r.u8("payload header");
    const len = r.u16("payload header");
    if (len < GENERIC_HEADER_LENGTH)
      throw new ParseError("payload header", start, `length ${len} < 4`);
    const body = r.sub(len - GENERIC_HEADER_LENGTH, `payload ${type} body`);
    const p = decodeBody(type, (flags & 128) !== 0, body, next);
    out.push(p);
    if (innerNext(p) !== void 0) {
      if (r.remaining > 0)
        throw new ParseError("payload chain", r.offset, "bytes after the encrypted payload");
      return out;
    }
    type = next;
    if (out.length > 512) throw new ParseError("payload chain", r.offset, "more than 512 payloads");
  }
  if (r.remaining > 0)
    throw new ParseError("payload chain", r.offset, `${r.remaining} trailing bytes`);
  return out;
}
function encodePayloadChain(payloads) {
  const w = new Writer(256);
  payloads.forEach((p, i) => {
    const inner = innerNext(p);
    if (inner !== void 0 && i !== payloads.length - 1) {
      throw new RangeError("an SK/SKF payload must be the last payload of a chain");
    }
    const next = inner ?? payloads[i + 1]?.type ?? PayloadType.NONE;
    const start = w.pos;
    w.u8(next).u8(p.critical ? 128 : 0).u16(0);
    encodeBody(w, p);
    const len = w.pos - start;
    if (len > 65535) throw new RangeError(`payload ${p.type} of ${len} bytes exceeds 65535`);
    w.patchU16(start + 2, len);
  });
  return { first: payloads[0]?.type ?? PayloadType.NONE, bytes: w.finish() };
}
function decodeMessage(bytes) {
  const header = decodeHeader(bytes);
  const payloads = decodePayloadChain(
    header.nextPayload,
    bytes.subarray(IKE_HEADER_LENGTH, header.length),
    IKE_HEADER_LENGTH
  );
  return { header, payloads };
}
function encodeMessage(header, payloads) {
  if (header.spiI.length !== 8 || header.spiR.length !== 8)
    throw new RangeError("IKE SPIs must be 8 bytes");
  const chain = encodePayloadChain(payloads);
  const w = new Writer(IKE_HEADER_LENGTH + chain.bytes.length);
  w.bytes(header.spiI).bytes(header.spiR);
  w.u8(chain.first).u8(header.version).u8(header.exchangeType).u8(header.flags);
  w.u32(header.messageId >>> 0).u32(IKE_HEADER_LENGTH + chain.bytes.length);
  w.bytes(chain.bytes);
  return w.finish();
}
function findUnsupportedCritical(payloads) {
  return payloads.filter((p) => "unknown" in p && p.critical).map((p) => p.type);
}

// src/ike/codec/rules.ts
var ANY = Infinity;
var P = PayloadType;
var common = [
  { type: P.NOTIFY, min: 0, max: ANY },
  { type: P.VENDOR, min: 0, max: ANY }
];
var authResponse = [
  { type: P.IDr, min: 0, max: 1 },
  { type: P.CERT, min: 0, max: 16 },
  { type: P.AUTH, min: 0, max: 1 },
  { type: P.EAP, min: 0, max: 1 },
  { type: P.CP, min: 0, max: 1 },
  { type: P.SA, min: 0, max: 1 },
  { type: P.TSi, min: 0, max: 1 },
  { type: P.TSr, min: 0, max: 1 },
  ...common
];
var createChild = [
  { type: P.SA, min: 1, max: 1 },
  { type: P.NONCE, min: 1, max: 1 },
  { type: P.KE, min: 0, max: 1 },
  { type: P.TSi, min: 0, max: 1 },
  { type: P.TSr, min: 0, max: 1 },
  ...common
];
var initBase = [
  { type: P.SA, min: 1, max: 1 },
  { type: P.KE, min: 1, max: 1 },
  { type: P.NONCE, min: 1, max: 1 },
  ...common
];
var keOnly = [{ type: P.KE, min: 0, max: 1 }, ...common];
var informational = [
  { type: P.DELETE, min: 0, max: ANY },
  { type: P.CP, min: 0, max: 1 },
  ...common
];
var RULES = {
  [ExchangeType.IKE_SA_INIT]: {
    encrypted: false,
    request: initBase,
    response: [...initBase, { type: P.CERTREQ, min: 0, max: ANY }]
  },
  [ExchangeType.IKE_AUTH]: {
    encrypted: true,
    request: [
      { type: P.IDi, min: 0, max: 1 },
      { type: P.CERTREQ, min: 0, max: ANY },
      ...authResponse
    ],
    response: authResponse
  },
  [ExchangeType.CREATE_CHILD_SA]: { encrypted: true, request: createChild, response: createChild },
  [ExchangeType.INFORMATIONAL]: {
    encrypted: true,
    request: informational,
    response: informational
  },
  [ExchangeType.IKE_INTERMEDIATE]: { encrypted: true, request: keOnly, response: keOnly },
  [ExchangeType.IKE_FOLLOWUP_KE]: { encrypted: true, request: keOnly, response: keOnly }
};
function isErrorOnly(payloads) {
  return payloads.some(
    (p) => p.type === P.NOTIFY && !("unknown" in p) && "notifyType" in p && (p.notifyType < 16384 || p.notifyType === 16390 || p.notifyType === 16407)
  );
}
function checkCounts(rules, payloads, what, isResponse) {
  const counts = /* @__PURE__ */ new Map();
  for (const p of payloads) {
    if ("unknown" in p) continue;
    if (p.type === P.SK || p.type === P.SKF)
      throw new ParseError(what, 0, "nested encrypted payload");
    if (!rules.some((r) => r.type === p.type)) {
      throw new ParseError(what, 0, `${nameOf(PayloadType, p.type)} payload not allowed here`);
    }
    counts.set(p.type, (counts.get(p.type) ?? 0) + 1);
  }
  const relaxMin = isResponse ? isErrorOnly(payloads) : false;
  for (const r of rules) {
    const n = counts.get(r.type) ?? 0;
    if (n > r.max)
      throw new ParseError(what, 0, `${n} ${nameOf(PayloadType, r.type)} payloads (max ${r.max})`);
    if (n < r.min && !relaxMin)
      throw new ParseError(what, 0, `missing ${nameOf(PayloadType, r.type)} payload`);
  }
}
function checkExchangeRules(exchangeType, isResponse, outer, inner) {
  const ex = RULES[exchangeType];
  const what = `${nameOf(ExchangeType, exchangeType)} ${isResponse ? "response" : "request"}`;
  if (!ex) throw new ParseError(what, 0, "unsupported exchange type");
  const rules = isResponse ? ex.response : ex.request;
  if (!ex.encrypted) {
    checkCounts(rules, outer, what, isResponse);
    return;
  }
  const sk = outer.filter((p) => p.type === P.SK && !("unknown" in p)).length;
  const skf = outer.filter((p) => p.type === P.SKF && !("unknown" in p)).length;
  if (sk + skf !== 1 || outer.length !== 1) {
    throw new ParseError(what, 0, "payloads must all be inside one SK (or SKF) payload");
  }
  if (inner) checkCounts(rules, inner, what, isResponse);
}

// src/ike/limits.ts
var MAX_IKE_MESSAGE_BYTES = 32 * 1024;
var LIMITS = {
  /** DNS servers per address family (INTERNAL_IP4_DNS, INTERNAL_IP6_DNS). */
  dnsPerFamily: 8,
  /** INTERNAL_DNS_DOMAIN entries (search domains / split DNS, RFC 8598). */
  domains: 16,
  /** INTERNAL_IP4_SUBNET / INTERNAL_IP6_SUBNET entries. */
  subnets: 32,
  /** Traffic selectors per side of a CHILD_SA (TSi, TSr). */
  selectorsPerSide: 32,
  /**
   * CHILD_SAs one IKE SA keeps at once: the current one and rekeyed ones not yet deleted (make
   * before break, simultaneous rekeys). The native data plane holds at most 8 inbound SAs.
   */
  childSas: 4
};
function capConfigReply(config) {
  const warnings = [];
  const cap = (list2, max, what) => {
    if (list2.length <= max) return list2;
    warnings.push(`ignored ${list2.length - max} ${what} beyond the first ${max}`);
    return list2.slice(0, max);
  };
  return {
    config: {
      ...config,
      dns4: cap(config.dns4, LIMITS.dnsPerFamily, "IPv4 DNS servers"),
      dns6: cap(config.dns6, LIMITS.dnsPerFamily, "IPv6 DNS servers"),
      domains: cap(config.domains, LIMITS.domains, "DNS domains"),
      subnets: cap(config.subnets, LIMITS.subnets, "subnets"),
      // Unknown attribute types are only logged: keep a few to name, not thousands.
      unknown: config.unknown.slice(0, 16)
    },
    warnings
  };
}
function capSelectors(selectors, side) {
  const max = LIMITS.selectorsPerSide;
  if (selectors.length <= max) return { selectors };
  return {
    selectors: selectors.slice(0, max),
    warning: `ignored ${selectors.length - max} ${side} traffic selectors beyond the first ${max}`
  };
}

// src/ike/codec/fragments.ts
var DEFAULT_REASSEMBLY_LIMITS = {
  maxFragments: 64,
  maxBytes: MAX_IKE_MESSAGE_BYTES
};
var FragmentReassembler = class {
  limits;
  messageId = -1;
  total = 0;
  first = 0;
  bytes = 0;
  parts = /* @__PURE__ */ new Map();
  constructor(limits = DEFAULT_REASSEMBLY_LIMITS) {
    this.limits = limits;
  }
  /** Adds one authenticated fragment. Duplicates are ignored; an older message's are rejected. */
  add(f) {
    if (f.totalFragments > this.limits.maxFragments) {
      return {
        status: "rejected",
        reason: `${f.totalFragments} fragments exceed the limit of ${this.limits.maxFragments}`
      };
    }
    if (f.fragmentNumber < 1 || f.fragmentNumber > f.totalFragments) {
      return { status: "rejected", reason: `fragment ${f.fragmentNumber} of ${f.totalFragments}` };
    }
    if (f.messageId !== this.messageId) {
      if (this.messageId !== -1 && f.messageId < this.messageId) {
        return { status: "rejected", reason: `fragment of older message ${f.messageId}` };
      }
      this.reset(f.messageId);
    }
    if (this.total === 0) this.total = f.totalFragments;
    else if (f.totalFragments !== this.total) {
      if (f.totalFragments < this.total)
        return { status: "rejected", reason: "inconsistent total fragments" };
      this.reset(f.messageId);
      this.total = f.totalFragments;
    }
    if (this.parts.has(f.fragmentNumber)) return { status: "incomplete" };
    if (this.bytes + f.plaintext.length > this.limits.maxBytes) {
      this.reset(-1);
      return {
        status: "rejected",
        reason: `reassembled message would exceed ${this.limits.maxBytes} bytes`
      };
    }
    this.parts.set(f.fragmentNumber, f.plaintext);
    this.bytes += f.plaintext.length;
    if (f.fragmentNumber === 1) this.first = f.firstInner;
    if (this.parts.size < this.total) return { status: "incomplete" };
    const ordered = [];
    for (let i = 1; i <= this.total; i++) ordered.push(this.parts.get(i));
    const out = { status: "complete", first: this.first, bytes: concatBytes(...ordered) };
    this.reset(-1);
    return out;
  }
  reset(messageId) {
    this.messageId = messageId;
    this.total = 0;
    this.first = 0;
    this.bytes = 0;
    this.parts.clear();
  }
};
function splitForFragments(inner, maxPiece) {
  if (maxPiece < 1) throw new RangeError('"maxPiece" must be positive');
  const out = [];
  for (let o = 0; o < inner.length; o += maxPiece)
    out.push(inner.subarray(o, Math.min(inner.length, o + maxPiece)));
  if (out.length === 0) out.push(new Uint8Array(0));
  return out;
}

// src/crypto/hash.ts
import { createHash } from "node:crypto";
function digest(alg, data) {
  return new Uint8Array(createHash(alg).update(data).digest());
}
var sha1 = (data) => digest("sha1", data);

// src/ike/natd.ts
function natdHash(spiI, spiR, ep) {
  const port = new Uint8Array(2);
  new DataView(port.buffer).setUint16(0, ep.port);
  return sha1(concatBytes(spiI, spiR, parseIpAddress(ep.address), port));
}

// src/ike/sa/ike-sa.ts
function newContext(spiI, spiR, weInitiated) {
  return {
    spiI,
    spiR,
    weInitiated,
    keymat: void 0,
    nextMid: 0,
    outstanding: void 0,
    peerNextMid: 0,
    lastResponse: void 0,
    fragments: { response: new FragmentReassembler(), request: new FragmentReassembler() }
  };
}
function newIkeSa() {
  return {
    state: "created",
    local: { address: "0.0.0.0", port: 0 },
    remote: { address: "0.0.0.0", port: 500 },
    natT: false,
    natHere: false,
    natThere: false,
    sa: newContext(new Uint8Array(8), new Uint8Array(8), true),
    retired: void 0,
    pendingNext: void 0,
    redundant: void 0,
    ikeProposal: void 0,
    ni: new Uint8Array(0),
    nr: new Uint8Array(0),
    initRequest: new Uint8Array(0),
    initResponse: new Uint8Array(0),
    peerFragmentation: false,
    peerHashes: [],
    peerMobike: false,
    peerPpk: false,
    ppkUsed: false,
    children: [],
    lastAlive: 0
  };
}
function u32(v) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

// src/ike/session-types.ts
var DEFAULT_RETRANSMIT = {
  timeoutMs: 2e3,
  base: 1.8,
  tries: 4,
  maxTimeoutMs: 3e4
};
function emptyIkeCounters() {
  return {
    received: 0,
    sent: 0,
    retransmits: 0,
    childRekeys: 0,
    ikeRekeys: 0,
    dpdSent: 0,
    dropped: {}
  };
}

// src/ike/context.ts
var IkeContext = class {
  cfg;
  random;
  log;
  counters = emptyIkeCounters();
  /** The IKE SA's state as plain data. */
  ike = newIkeSa();
  /** Outputs for the driver, collected during one `handle` call. */
  out = [];
  /** The time of the input being handled (injected, never read from a clock). */
  now = 0;
  /** Drops so far and the last one's reason, to tell "no answer" from "no valid answer". */
  dropTotal = 0;
  lastDrop = "";
  /** Wired by IkeSession right after construction. */
  xchg;
  tasks;
  constructor(cfg, random, log) {
    this.cfg = cfg;
    this.random = random;
    this.log = log;
  }
  emit(event) {
    this.out.push({ kind: "event", event });
  }
  setState(state, detail) {
    if (this.ike.state === state) return;
    this.ike.state = state;
    this.emit(detail === void 0 ? { type: "state", state } : { type: "state", state, detail });
  }
  drop(reason, detail) {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    this.dropTotal++;
    this.lastDrop = detail === void 0 ? reason : `${reason}: ${detail}`;
    this.log.debug(
      "ike",
      `dropped datagram: ${reason}`,
      detail === void 0 ? void 0 : { detail }
    );
  }
  transmit(data) {
    this.counters.sent++;
    this.out.push({ kind: "send", data, to: this.ike.remote, nonEspMarker: this.ike.natT });
  }
  /** A printable warning for the driver: something the gateway sent was ignored beyond a bound. */
  warn(message) {
    this.log.warn("ike", message);
    this.emit({ type: "warning", message });
  }
  notify(type, data = new Uint8Array(0)) {
    return {
      type: PayloadType.NOTIFY,
      critical: false,
      protocol: 0,
      spi: new Uint8Array(0),
      notifyType: type,
      data
    };
  }
  randomNonZero(n) {
    for (; ; ) {
      const b = this.random.bytes(n);
      if (b.some((x) => x !== 0)) return b;
    }
  }
  /** A fresh inbound ESP SPI, unused by our CHILD_SAs. */
  newChildSpi() {
    for (; ; ) {
      const v = new DataView(this.random.bytes(4).buffer).getUint32(0);
      if (v > 255 && !this.ike.children.some((c) => c.inboundSpi === v)) return v;
    }
  }
  /** A jitter factor in [0, 0.1) so both ends rarely rekey at once (RFC 7296 §2.8). */
  rekeyJitter() {
    return new DataView(this.random.bytes(4).buffer).getUint32(0) / 4294967296 * 0.1;
  }
  deleteIkePayload() {
    return {
      type: PayloadType.DELETE,
      critical: false,
      protocol: ProtocolId.IKE,
      spiSize: 0,
      spis: []
    };
  }
  /** NAT_DETECTION_SOURCE_IP / _DESTINATION_IP for the current SA and endpoints (§2.23). */
  natdNotifies() {
    const { sa, local, remote } = this.ike;
    const src = this.cfg.forceEncap ? this.random.bytes(20) : natdHash(sa.spiI, sa.spiR, local);
    const dst = natdHash(sa.spiI, sa.spiR, remote);
    return [
      this.notify(NotifyType.NAT_DETECTION_SOURCE_IP, src),
      this.notify(NotifyType.NAT_DETECTION_DESTINATION_IP, dst)
    ];
  }
  /**
   * NAT-D (RFC 7296 §2.23; in MOBIKE exchanges RFC 4555 §3.5): is there a NAT on either side?
   * Returns false when the notifies are absent.
   */
  updateNatFrom(notifies) {
    const ike = this.ike;
    const srcs = notifies.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_SOURCE_IP);
    const dsts = notifies.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_DESTINATION_IP);
    if (srcs.length === 0 || dsts.length === 0) return false;
    const expectRemote = natdHash(ike.sa.spiI, ike.sa.spiR, ike.remote);
    const expectLocal = natdHash(ike.sa.spiI, ike.sa.spiR, ike.local);
    ike.natThere = !srcs.some((n) => equalBytes(n.data, expectRemote));
    ike.natHere = !dsts.some((n) => equalBytes(n.data, expectLocal));
    this.emit({ type: "nat", natHere: ike.natHere, natThere: ike.natThere });
    return true;
  }
  /** Ends the SA with an error, telling the gateway (INFORMATIONAL DELETE) if it knows the SA. */
  fail(error) {
    const ike = this.ike;
    if (ike.state === "closed") return;
    this.log.warn("ike", error.message);
    if (ike.sa.keymat && (ike.state === "established" || ike.state === "connecting") && ike.initResponse.length > 0) {
      try {
        const mid = ike.sa.outstanding ? ike.sa.outstanding.mid + 1 : ike.sa.nextMid;
        this.transmit(
          this.xchg.buildEncrypted(ExchangeType.INFORMATIONAL, mid, false, [
            this.deleteIkePayload()
          ])
        );
      } catch {
      }
    }
    this.finishClose(error, false);
  }
  finishClose(error, byPeer) {
    const ike = this.ike;
    if (ike.state === "closed") return;
    ike.sa.outstanding = void 0;
    this.out.push({ kind: "clearTimer", timer: "retransmit" });
    this.out.push({ kind: "clearTimer", timer: "dpd" });
    this.out.push({ kind: "clearTimer", timer: "rekey-child" });
    this.out.push({ kind: "clearTimer", timer: "rekey-ike" });
    this.xchg.clearQueue();
    for (const c of ike.children.splice(0)) {
      this.out.push({ kind: "removeChild", inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi });
    }
    ike.sa.keymat?.wipe();
    this.tasks.init.abandon();
    this.setState("closed", error?.message);
    this.emit(error === void 0 ? { type: "closed", byPeer } : { type: "closed", error, byPeer });
  }
  /** Close without sending anything (the gateway already failed the exchange). */
  finishCloseWith(error) {
    this.log.warn("ike", error.message);
    this.finishClose(error, false);
  }
  errorFromNotify(n, during) {
    const name = nameOf(NotifyType, n.notifyType);
    const map = {
      [NotifyType.AUTHENTICATION_FAILED]: [
        "ERR_IKE_AUTH_FAILED",
        "the gateway rejected our credentials (AUTHENTICATION_FAILED): check the pre-shared key and --id"
      ],
      [NotifyType.NO_PROPOSAL_CHOSEN]: [
        "ERR_IKE_NO_PROPOSAL",
        `the gateway accepted none of our ${during === "IKE_SA_INIT" ? "IKE" : "ESP"} proposals (NO_PROPOSAL_CHOSEN); we offered: ${formatSpecs(during === "IKE_SA_INIT" ? this.cfg.ikeProposals : this.cfg.espProposals)}`
      ],
      [NotifyType.TS_UNACCEPTABLE]: [
        "ERR_IKE_TS_UNACCEPTABLE",
        `the gateway refused our traffic selectors (TS_UNACCEPTABLE): ${this.cfg.tsLocal.map(formatTs).join(",")} === ${this.cfg.tsRemote.map(formatTs).join(",")}`
      ],
      [NotifyType.INTERNAL_ADDRESS_FAILURE]: [
        "ERR_IKE_PEER_ERROR",
        "the gateway could not assign a virtual IP (INTERNAL_ADDRESS_FAILURE): its address pool may be exhausted"
      ],
      [NotifyType.FAILED_CP_REQUIRED]: [
        "ERR_IKE_PEER_ERROR",
        "the gateway requires a configuration request (FAILED_CP_REQUIRED)"
      ]
    };
    const m = map[n.notifyType];
    if (m) return new VpnError(m[0], m[1]);
    return new VpnError("ERR_IKE_PEER_ERROR", `the gateway answered ${during} with error ${name}`);
  }
};

// src/ike/tasks/task.ts
var DPD_WHAT = "a liveness check (DPD)";
var OLD_IKE_DELETE = "the DELETE of the rekeyed IKE SA";
var IKE_REKEY_WHAT = "an IKE SA rekey";

// src/ike/exchange.ts
var Exchange = class {
  c;
  responder;
  /**
   * The decrypted inner payload bytes of the last protected message accepted (reassembled from
   * RFC 7383 fragments when needed), for RFC 9242 §3.3.2 IntAuth.
   */
  lastInner;
  constructor(c, responder) {
    this.c = c;
    this.responder = responder;
  }
  timeoutFor(tries) {
    const r = this.c.cfg.retransmit;
    return Math.min(r.maxTimeoutMs, r.timeoutMs * Math.pow(r.base, tries));
  }
  /** Sends a new request and arms the retransmit timer. One request outstanding at a time (window 1). */
  sendRequest(exchange, message, what, onResponse, giveUp) {
    const data = Array.isArray(message) ? message : [message];
    this.c.ike.sa.outstanding = {
      mid: this.c.ike.sa.nextMid,
      exchange,
      data,
      tries: 0,
      onResponse,
      what,
      ...giveUp ? { giveUp } : {}
    };
    for (const d of data) this.c.transmit(d);
    this.c.out.push({ kind: "setTimer", timer: "retransmit", at: this.c.now + this.timeoutFor(0) });
  }
  /**
   * The retransmit timer fired: resend the outstanding request's exact bytes (RFC 7296 §2.1), or
   * give up after `retransmit.tries` and let the request's task (or a time-out error) decide.
   */
  onRetransmitTimer() {
    const o = this.c.ike.sa.outstanding;
    if (!o) return;
    const late = o.deadlineAt !== void 0 && this.c.now >= o.deadlineAt;
    if (late || o.deadlineAt === void 0 && o.tries >= this.c.cfg.retransmit.tries) {
      this.c.ike.sa.outstanding = void 0;
      this.c.ike.sa.nextMid = o.mid + 1;
      if (o.giveUp?.()) return;
      const total = this.totalTimeoutMs();
      const dead = o.what === DPD_WHAT ? ": the gateway is down or unreachable (dead peer detection)" : "";
      const from = `${this.c.ike.remote.address}:${this.c.ike.remote.port}`;
      const over = late ? `${o.tries + 1} attempts, the last ones within ${((o.deadlineAt - o.wokeAt) / 1e3).toFixed(1)} s of waking from a sleep` : `${o.tries + 1} attempts over ${(total / 1e3).toFixed(1)} s`;
      this.c.fail(
        new VpnError(
          "ERR_IKE_TIMEOUT",
          o.bad ? `${o.bad.count} ${o.bad.count === 1 ? "datagram" : "datagrams"} arrived from ${from} in answer to ${o.what} (${over}), but none could be verified or parsed (last: ${o.bad.last})` : `no answer from ${from} to ${o.what} after ${over}${dead}`
        )
      );
      return;
    }
    o.tries++;
    this.c.counters.retransmits++;
    this.c.log.debug("ike", `retransmitting ${o.what} (try ${o.tries + 1})`);
    for (const d of o.data) this.c.transmit(d);
    this.c.out.push({
      kind: "setTimer",
      timer: "retransmit",
      at: this.nextRetransmitAt(o)
    });
  }
  /** The next retransmission of `o`: its backoff, but never past a wake deadline. */
  nextRetransmitAt(o) {
    const at = this.c.now + this.timeoutFor(o.tries);
    return o.deadlineAt === void 0 ? at : Math.min(at, o.deadlineAt);
  }
  /**
   * The host slept (or the process was stopped) for longer than the retransmission schedule
   * assumed: the outstanding request must now be answered within `budgetMs`, or the SA is given
   * up (RFC 7296 §2.4: a peer that does not answer is dead; the driver then reconnects). With
   * `resend`, the request is retransmitted once now (the exact bytes, §2.1) instead of the stale
   * schedule's pile of retries. Returns false when no request is outstanding.
   */
  hurry(budgetMs, resend) {
    const o = this.c.ike.sa.outstanding;
    if (!o) return false;
    o.deadlineAt = this.c.now + budgetMs;
    o.wokeAt = this.c.now;
    if (resend) {
      o.tries++;
      this.c.counters.retransmits++;
      for (const d of o.data) this.c.transmit(d);
    }
    this.c.out.push({
      kind: "setTimer",
      timer: "retransmit",
      at: Math.min(this.c.now + this.timeoutFor(0), o.deadlineAt)
    });
    return true;
  }
  /**
   * Sends a task's request with the next message ID: IKE_SA_INIT in the clear (kept for the AUTH
   * payload, RFC 7296 §2.15), the others inside SK, IKE_AUTH in RFC 7383 fragments when too big.
   * `giveUp` decides what happens when its retransmissions run out (default: the SA fails).
   */
  initiate(task, giveUp) {
    const inner = task.buildRequest();
    const mid = this.c.ike.sa.nextMid;
    let msg;
    if (task.exchange === ExchangeType.IKE_SA_INIT) {
      msg = encodeMessage(this.headerFor(task.exchange, mid, false), inner);
      this.c.ike.initRequest = msg;
    } else if (task.exchange === ExchangeType.IKE_AUTH || // RFC 9242 §3.4 / RFC 9370 §2.2.2, §2.2.4: IKE_INTERMEDIATE and IKE_FOLLOWUP_KE (ML-KEM
    // keys) and CREATE_CHILD_SA with an ML-KEM KE may be fragmented too.
    task.exchange === ExchangeType.IKE_INTERMEDIATE || task.exchange === ExchangeType.IKE_FOLLOWUP_KE || task.exchange === ExchangeType.CREATE_CHILD_SA) {
      msg = this.protectRequest(task.exchange, mid, inner);
    } else {
      msg = this.buildEncrypted(task.exchange, mid, false, inner);
    }
    this.sendRequest(task.exchange, msg, task.what, (h, p) => task.processResponse(h, p), giveUp);
  }
  /** No request waits for its turn. */
  idle() {
    return this.queue.length === 0;
  }
  /** Forgets the requests waiting for their turn (the SA is closing). */
  clearQueue() {
    this.queue.length = 0;
  }
  /** Total time from the first send until we give up, for messages. */
  totalTimeoutMs() {
    let t = 0;
    for (let i = 0; i <= this.c.cfg.retransmit.tries; i++) t += this.timeoutFor(i);
    return t;
  }
  /** Counts datagrams dropped while a request waits, so a time-out can say they came. */
  onDatagramCounted(data, from) {
    const o = this.c.ike.sa.outstanding;
    const before = this.c.dropTotal;
    this.onDatagram(data, from);
    if (o && this.c.ike.sa.outstanding === o && this.c.dropTotal > before) {
      o.bad = { count: (o.bad?.count ?? 0) + 1, last: this.c.lastDrop };
    }
  }
  onDatagram(data, from) {
    this.c.counters.received++;
    const last = this.c.ike.sa.lastResponse;
    if (this.c.ike.state === "closed" && last?.request && equalBytes(data, last.request)) {
      this.c.counters.retransmits++;
      this.c.transmit(last.data);
      return;
    }
    if (this.c.ike.state === "closed" || this.c.ike.state === "created") {
      this.c.drop("not-active");
      return;
    }
    if (data.length > MAX_IKE_MESSAGE_BYTES) {
      this.c.drop("oversized", `${data.length} bytes > ${MAX_IKE_MESSAGE_BYTES}`);
      return;
    }
    let header;
    let payloads;
    try {
      ({ header, payloads } = decodeMessage(data));
    } catch (e) {
      this.c.drop("malformed", e.message);
      return;
    }
    const ctx = this.contextFor(header);
    if (!ctx) {
      this.c.drop("unknown-spi");
      return;
    }
    if ((header.flags & HeaderFlag.INITIATOR) !== 0 === ctx.weInitiated) {
      this.c.drop("bad-flags");
      return;
    }
    const isResponse = (header.flags & HeaderFlag.RESPONSE) !== 0;
    if (isResponse) {
      if (ctx !== this.c.ike.sa) {
        this.c.drop("unexpected-response", "on a rekeyed IKE SA");
        return;
      }
      this.onResponse(header, payloads, data, from);
    } else this.onRequest(ctx, header, payloads, data, from);
  }
  /** The IKE SA a message belongs to, by its SPIs (the current one, or one replaced by a rekey). */
  contextFor(header) {
    const cur = this.c.ike.sa;
    if (equalBytes(header.spiI, cur.spiI) && (cur.spiR.every((b) => b === 0) || equalBytes(header.spiR, cur.spiR))) {
      return cur;
    }
    for (const other of [this.c.ike.retired, this.c.ike.pendingNext, this.c.ike.redundant]) {
      if (other && equalBytes(header.spiI, other.spiI) && equalBytes(header.spiR, other.spiR))
        return other;
    }
    return void 0;
  }
  onResponse(header, payloads, raw, from) {
    const o = this.c.ike.sa.outstanding;
    if (!o || header.messageId !== o.mid || header.exchangeType !== o.exchange) {
      this.c.drop("unexpected-response", `mid ${header.messageId}`);
      return;
    }
    let inner;
    if (header.exchangeType === ExchangeType.IKE_SA_INIT) {
      inner = payloads;
      try {
        checkExchangeRules(header.exchangeType, true, payloads, void 0);
      } catch (e) {
        this.c.drop("rules", e.message);
        return;
      }
      this.c.ike.initResponse = raw;
    } else {
      const opened = this.openEncrypted(this.c.ike.sa, header, payloads, raw, true);
      if (!opened) return;
      inner = opened;
    }
    this.c.ike.sa.outstanding = void 0;
    this.c.out.push({ kind: "clearTimer", timer: "retransmit" });
    this.c.ike.sa.nextMid = o.mid + 1;
    this.c.ike.lastAlive = this.c.now;
    if (from.port !== this.c.ike.remote.port || from.address !== this.c.ike.remote.address) {
      this.c.log.debug("ike", `response from ${from.address}:${from.port}`);
    }
    const critical = findUnsupportedCritical(inner);
    if (critical.length > 0) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          `the gateway's ${nameOf(ExchangeType, header.exchangeType)} response carries a payload of unknown type ${critical[0]} marked critical: the message is rejected and the SA not used (RFC 7296 §2.5)`
        )
      );
      return;
    }
    o.onResponse(header, inner);
    this.runQueue();
  }
  /** Requests wait their turn: one request outstanding at a time (window size 1, RFC 7296 §2.3). */
  queue = [];
  enqueue(start) {
    this.queue.push(start);
    this.runQueue();
  }
  runQueue() {
    while (!this.c.ike.sa.outstanding && this.queue.length > 0 && this.c.ike.state === "established") {
      this.queue.shift()();
    }
  }
  /** Decrypts and rule-checks an SK message. Drops (returns undefined) on any failure. */
  openEncrypted(ctx, header, payloads, raw, isResponse) {
    const keymat = ctx.keymat;
    if (!keymat) {
      this.c.drop("no-keys");
      return void 0;
    }
    const sk = payloads.find((p) => p.type === PayloadType.SK);
    if (!sk) {
      const skf = payloads.find((p) => p.type === PayloadType.SKF);
      if (skf) return this.openFragment(ctx, header, payloads, raw, skf, isResponse);
      this.c.drop("not-encrypted");
      return void 0;
    }
    const aadLen = raw.length - sk.body.length;
    let innerBytes;
    try {
      innerBytes = keymat.openInbound(raw.subarray(0, aadLen), sk.body);
    } catch (e) {
      this.c.drop("integrity", e.message);
      return void 0;
    }
    let inner;
    try {
      inner = decodePayloadChain(sk.firstInner, innerBytes, aadLen);
      checkExchangeRules(header.exchangeType, isResponse, payloads, inner);
    } catch (e) {
      this.c.drop("malformed-inner", e.message);
      return void 0;
    }
    this.lastInner = { first: sk.firstInner, bytes: innerBytes };
    return inner;
  }
  /**
   * RFC 7383 §2.6: each SKF fragment is authenticated and decrypted on its own, then the plaintexts
   * are joined; returns the inner payloads once the last fragment arrived.
   */
  openFragment(ctx, header, payloads, raw, skf, isResponse) {
    if (!this.c.cfg.fragmentSize) {
      this.c.drop("fragment-unsupported");
      return void 0;
    }
    try {
      checkExchangeRules(header.exchangeType, isResponse, payloads, void 0);
    } catch (e) {
      this.c.drop("rules", e.message);
      return void 0;
    }
    const aadLen = raw.length - skf.body.length;
    let plaintext;
    try {
      plaintext = ctx.keymat.openInbound(raw.subarray(0, aadLen), skf.body);
    } catch (e) {
      this.c.drop("integrity", `fragment ${skf.fragmentNumber}: ${e.message}`);
      return void 0;
    }
    const r = (isResponse ? ctx.fragments.response : ctx.fragments.request).add({
      messageId: header.messageId,
      fragmentNumber: skf.fragmentNumber,
      totalFragments: skf.totalFragments,
      firstInner: skf.firstInner,
      plaintext
    });
    if (r.status === "incomplete") return void 0;
    if (r.status === "rejected") {
      this.c.drop("fragment-rejected", r.reason);
      return void 0;
    }
    try {
      const inner = decodePayloadChain(r.first, r.bytes, 0);
      checkExchangeRules(header.exchangeType, isResponse, payloads, inner);
      this.lastInner = { first: r.first, bytes: r.bytes };
      return inner;
    } catch (e) {
      this.c.drop("malformed-inner", e.message);
      return void 0;
    }
  }
  onRequest(ctx, header, payloads, raw, from) {
    if (this.c.ike.state !== "established" && this.c.ike.state !== "deleting") {
      this.c.drop("request-before-established");
      return;
    }
    if (ctx.lastResponse && header.messageId === ctx.lastResponse.mid) {
      if (!this.authenticRetransmit(ctx, payloads, raw)) return;
      this.c.counters.retransmits++;
      this.c.transmit(ctx.lastResponse.data);
      return;
    }
    if (header.messageId !== ctx.peerNextMid) {
      this.c.drop("unexpected-request-mid", `got ${header.messageId}, expected ${ctx.peerNextMid}`);
      return;
    }
    const inner = this.openEncrypted(ctx, header, payloads, raw, false);
    if (!inner) return;
    ctx.peerNextMid++;
    this.c.ike.lastAlive = this.c.now;
    if (from.port !== this.c.ike.remote.port && this.c.ike.natT) {
      this.c.ike.remote = { address: from.address, port: from.port };
    }
    const critical = findUnsupportedCritical(inner);
    let reply;
    let after;
    if (critical.length > 0) {
      reply = [this.c.notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, Uint8Array.of(critical[0]))];
    } else {
      const task = this.responder(ctx, header.exchangeType, inner);
      if (task) ({ reply, after } = task.processRequest(ctx, inner, from));
      else reply = [this.c.notify(NotifyType.INVALID_SYNTAX)];
    }
    const data = this.buildEncrypted(header.exchangeType, header.messageId, true, reply, ctx);
    ctx.lastResponse = { mid: header.messageId, data, request: raw.slice() };
    this.c.transmit(data);
    after?.();
  }
  /** Does a request (SK, or one SKF fragment of it) pass its ICV? Drops it when not. */
  authenticRetransmit(ctx, payloads, raw) {
    const sk = payloads.find(
      (p) => p.type === PayloadType.SK || p.type === PayloadType.SKF
    );
    if (!sk || !ctx.keymat) {
      this.c.drop("not-encrypted", "retransmitted request");
      return false;
    }
    try {
      ctx.keymat.openInbound(raw.subarray(0, raw.length - sk.body.length), sk.body);
      if (sk.type === PayloadType.SKF && sk.fragmentNumber !== 1) {
        this.c.drop("retransmitted-fragment");
        return false;
      }
      return true;
    } catch (e) {
      this.c.drop("integrity", `retransmitted request: ${e.message}`);
      return false;
    }
  }
  headerFor(exchange, mid, response, ctx = this.c.ike.sa) {
    return {
      spiI: ctx.spiI,
      spiR: ctx.spiR,
      version: 32,
      exchangeType: exchange,
      flags: (ctx.weInitiated ? HeaderFlag.INITIATOR : 0) | (response ? HeaderFlag.RESPONSE : 0),
      messageId: mid
    };
  }
  /** Encodes a message whose payloads all travel inside SK (RFC 7296 §3.14). */
  buildEncrypted(exchange, mid, response, inner, ctx = this.c.ike.sa) {
    const keymat = ctx.keymat;
    if (!keymat) throw new VpnError("ERR_IKE_PROTOCOL", "no keys to protect a message");
    const chain = encodePayloadChain(inner);
    const bodyLength = keymat.crypter.bodyLength(chain.bytes.length);
    const sk = {
      type: PayloadType.SK,
      critical: false,
      firstInner: chain.first,
      body: new Uint8Array(bodyLength)
    };
    const msg = encodeMessage(this.headerFor(exchange, mid, response, ctx), [sk]);
    const aadLen = msg.length - bodyLength;
    const body = keymat.sealOutbound(msg.subarray(0, aadLen), chain.bytes, this.c.random);
    if (body.length !== bodyLength) {
      throw new VpnError("ERR_IKE_PROTOCOL", `SK body length ${body.length} != ${bodyLength}`);
    }
    msg.set(body, aadLen);
    return msg;
  }
  /**
   * Encodes a protected request; if the gateway supports fragmentation (RFC 7383 §2.3) and the
   * datagram would exceed `fragmentSize`, splits the inner payloads into SKF fragments, each
   * encrypted on its own with the IKE header and SKF header as AAD (§2.5).
   */
  protectRequest(exchange, mid, inner) {
    const whole = this.buildEncrypted(exchange, mid, false, inner);
    const ipv6 = this.c.ike.remote.address.includes(":");
    const overhead = (ipv6 ? 40 : 20) + 8 + (this.c.ike.natT ? 4 : 0);
    const room = this.c.cfg.fragmentSize - overhead;
    if (!this.c.ike.peerFragmentation || !this.c.cfg.fragmentSize || whole.length <= room)
      return [whole];
    const keymat = this.c.ike.sa.keymat;
    const chain = encodePayloadChain(inner);
    let piece = room - 36;
    while (piece > 0 && 36 + keymat.crypter.bodyLength(piece) > room) piece--;
    if (piece < 64) return [whole];
    const pieces = splitForFragments(chain.bytes, piece);
    const out = [];
    pieces.forEach((plain, i) => {
      const bodyLength = keymat.crypter.bodyLength(plain.length);
      const skf = {
        type: PayloadType.SKF,
        critical: false,
        // §2.5: only the first fragment names the first inner payload.
        firstInner: i === 0 ? chain.first : 0,
        fragmentNumber: i + 1,
        totalFragments: pieces.length,
        body: new Uint8Array(bodyLength)
      };
      const msg = encodeMessage(this.headerFor(exchange, mid, false), [skf]);
      const aadLen = msg.length - bodyLength;
      msg.set(keymat.sealOutbound(msg.subarray(0, aadLen), plain, this.c.random), aadLen);
      out.push(msg);
    });
    this.c.log.debug("ike", `${nameOf(ExchangeType, exchange)} sent in ${out.length} fragments`);
    return out;
  }
};

// src/ike/redirect.ts
var GwIdentType = { IPV4: 1, IPV6: 2, FQDN: 3 };
var MAX_FQDN = 253;
var FQDN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/;
function parseGwIdentity(data) {
  if (data.length < 2) throw new ParseError("REDIRECT gateway identity", 0, "too short");
  const type = data[0];
  const len = data[1];
  if (2 + len > data.length)
    throw new ParseError("REDIRECT gateway identity", 1, `length ${len} beyond the notify`);
  const body = data.subarray(2, 2 + len);
  const rest = data.slice(2 + len);
  switch (type) {
    case GwIdentType.IPV4:
      if (len !== 4) throw new ParseError("REDIRECT gateway identity", 1, `IPv4 of ${len} bytes`);
      return { gw: { kind: "ipv4", value: formatIpAddress(body) }, rest };
    case GwIdentType.IPV6:
      if (len !== 16) throw new ParseError("REDIRECT gateway identity", 1, `IPv6 of ${len} bytes`);
      return { gw: { kind: "ipv6", value: formatIpAddress(body) }, rest };
    case GwIdentType.FQDN: {
      if (len < 1 || len > MAX_FQDN)
        throw new ParseError("REDIRECT gateway identity", 1, `FQDN of ${len} bytes`);
      if (body.some((b) => b < 33 || b > 126))
        throw new ParseError("REDIRECT gateway identity", 2, "FQDN with non-printable bytes");
      const name = Buffer.from(body).toString("latin1").toLowerCase();
      if (!FQDN.test(name))
        throw new ParseError("REDIRECT gateway identity", 2, "FQDN is not a host name");
      return { gw: { kind: "fqdn", value: name.replace(/\.$/, "") }, rest };
    }
    default:
      throw new ParseError("REDIRECT gateway identity", 0, `unknown GW Ident Type ${type}`);
  }
}
function encodeGwAddress(address, nonce) {
  const a = parseIpAddress(address);
  const n = nonce ?? new Uint8Array(0);
  const out = new Uint8Array(2 + a.length + n.length);
  out[0] = a.length === 4 ? GwIdentType.IPV4 : GwIdentType.IPV6;
  out[1] = a.length;
  out.set(a, 2);
  out.set(n, 2 + a.length);
  return out;
}
function redirectIn(notifies, ni) {
  const r = notifies.find((n) => n.notifyType === NotifyType.REDIRECT);
  if (!r) return void 0;
  let parsed;
  try {
    parsed = parseGwIdentity(r.data);
  } catch (e) {
    return e.message;
  }
  if (ni !== void 0) {
    if (!equalBytes(parsed.rest, ni))
      return "its nonce data is not the nonce of our IKE_SA_INIT request (RFC 5685 §3)";
  } else if (parsed.rest.length > 0) {
    return `${parsed.rest.length} bytes follow the gateway identity`;
  }
  return parsed.gw;
}
var RedirectResponder = class {
  c;
  constructor(c) {
    this.c = c;
  }
  /** Is this request of the gateway's an RFC 5685 §5 redirect of the SA? */
  static matches(exchange, inner) {
    return exchange === ExchangeType.INFORMATIONAL && !inner.some((p) => p.type === PayloadType.DELETE) && filterPayloads(inner, PayloadType.NOTIFY).some((n) => n.notifyType === NotifyType.REDIRECT);
  }
  processRequest(ctx, inner) {
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    if (ctx !== this.c.ike.sa || this.c.ike.state !== "established") return { reply: [] };
    if (this.c.cfg.redirect === false) {
      this.c.warn(
        "the gateway asked us to move to another gateway (REDIRECT); --no-redirect: staying"
      );
      return { reply: [] };
    }
    const target2 = redirectIn(notifies, void 0);
    if (typeof target2 !== "object") {
      this.c.warn(`ignored a malformed REDIRECT from the gateway: ${target2 ?? "missing"}`);
      return { reply: [] };
    }
    return {
      reply: [],
      after: () => {
        this.c.log.info("ike", `the gateway redirects us to ${target2.value} (RFC 5685 §5)`);
        this.c.emit({ type: "redirect", gateway: target2, during: "INFORMATIONAL" });
        this.deleteAndClose();
      }
    };
  }
  /**
   * RFC 5685 §5: the client deletes the old IKE SA. One INFORMATIONAL { D(IKE) }, not waited
   * for: the gateway that sent us away has nothing to add, and the new one is waiting.
   */
  deleteAndClose() {
    const sa = this.c.ike.sa;
    try {
      const mid = sa.outstanding ? sa.outstanding.mid + 1 : sa.nextMid;
      this.c.transmit(
        this.c.xchg.buildEncrypted(ExchangeType.INFORMATIONAL, mid, false, [
          this.c.deleteIkePayload()
        ])
      );
    } catch (e) {
      this.c.log.debug("ike", `DELETE of the redirected IKE SA not sent: ${e.message}`);
    }
    this.c.finishClose(void 0, false);
  }
};

// src/crypto/ke.ts
import {
  createDiffieHellman,
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  getDiffieHellman
} from "node:crypto";

// node_modules/@noble/hashes/_u64.js
var U32_MASK64 = /* @__PURE__ */ (() => BigInt(2 ** 32 - 1))();
var _32n = /* @__PURE__ */ BigInt(32);
function fromBig(n, le = false) {
  if (le)
    return { h: Number(n & U32_MASK64), l: Number(n >> _32n & U32_MASK64) };
  return { h: Number(n >> _32n & U32_MASK64) | 0, l: Number(n & U32_MASK64) | 0 };
}
function split(lst, le = false) {
  const len = lst.length;
  let Ah = new Uint32Array(len);
  let Al = new Uint32Array(len);
  for (let i = 0; i < len; i++) {
    const { h, l } = fromBig(lst[i], le);
    [Ah[i], Al[i]] = [h, l];
  }
  return [Ah, Al];
}
var fromNumH = (n) => n / 2 ** 32 | 0;
var fromNumL = (n) => n >>> 0;
function setU64FromNum(view, byteOffset, n, isLE2) {
  const h = fromNumH(n);
  const l = fromNumL(n);
  view.setUint32(byteOffset, isLE2 ? l : h, isLE2);
  view.setUint32(byteOffset + 4, isLE2 ? h : l, isLE2);
}
var shrSH = (h, _l, s) => h >>> s;
var shrSL = (h, l, s) => h << 32 - s | l >>> s;
var rotrSH = (h, l, s) => h >>> s | l << 32 - s;
var rotrSL = (h, l, s) => h << 32 - s | l >>> s;
var rotrBH = (h, l, s) => h << 64 - s | l >>> s - 32;
var rotrBL = (h, l, s) => h >>> s - 32 | l << 64 - s;
function add(Ah, Al, Bh, Bl) {
  const l = (Al >>> 0) + (Bl >>> 0);
  return { h: Ah + Bh + (l / 2 ** 32 | 0) | 0, l: l | 0 };
}
var add3L = (Al, Bl, Cl) => (Al >>> 0) + (Bl >>> 0) + (Cl >>> 0);
var add3H = (low, Ah, Bh, Ch) => Ah + Bh + Ch + (low / 2 ** 32 | 0) | 0;
var add4L = (Al, Bl, Cl, Dl) => (Al >>> 0) + (Bl >>> 0) + (Cl >>> 0) + (Dl >>> 0);
var add4H = (low, Ah, Bh, Ch, Dh) => Ah + Bh + Ch + Dh + (low / 2 ** 32 | 0) | 0;
var add5L = (Al, Bl, Cl, Dl, El) => (Al >>> 0) + (Bl >>> 0) + (Cl >>> 0) + (Dl >>> 0) + (El >>> 0);
var add5H = (low, Ah, Bh, Ch, Dh, Eh) => Ah + Bh + Ch + Dh + Eh + (low / 2 ** 32 | 0) | 0;

// node_modules/@noble/hashes/utils.js
function isBytes(a) {
  return a instanceof Uint8Array || ArrayBuffer.isView(a) && a.constructor.name === "Uint8Array" && "BYTES_PER_ELEMENT" in a && a.BYTES_PER_ELEMENT === 1;
}
var atitle = (title) => title ? `"${title}" ` : "";
function anumber(n, title = "") {
  if (typeof n !== "number")
    throw new TypeError(atitle(title) + "expected number, got " + typeof n);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(atitle(title) + "expected integer >= 0, got " + n);
  return n;
}
function abool(value, title = "") {
  if (typeof value !== "boolean")
    throw new TypeError(atitle(title) + "expected boolean, got type=" + typeof value);
  return value;
}
function abytes(value, length, title = "") {
  if (isBytes(value) && (length === void 0 || value.length === length))
    return value;
  if (length !== void 0)
    anumber(length, "length");
  const bytes = isBytes(value);
  const ofLen = length !== void 0 ? ` of length ${length}` : "";
  const got = bytes ? `length=${value.length}` : `type=${typeof value}`;
  const message = atitle(title) + "expected Uint8Array" + ofLen + ", got " + got;
  if (!bytes)
    throw new TypeError(message);
  throw new RangeError(message);
}
function ahash(h) {
  if (typeof h !== "function" || typeof h.create !== "function")
    throw new TypeError("expected hash wrapped by utils.createHasher");
  anumber(h.outputLen);
  anumber(h.blockLen);
  if (h.outputLen < 1 || h.blockLen < 1)
    throw new Error("hash blockLen / outputLen must be >= 1");
}
var aobject = (value, label) => {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new TypeError((label === "object" ? "" : `"${label}" `) + "expected object, got type=" + typeof value);
};
var aopts = (value, label) => {
  aobject(value, label);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null)
    throw new TypeError(`"${label}" expected plain object`);
  if (Object.hasOwn(value, "__proto__"))
    throw new TypeError(`"${label}.__proto__" is not allowed`);
};
function aexists(instance, checkFinished = true) {
  if (instance.destroyed)
    throw new Error("hash was destroyed");
  if (checkFinished && instance.finished)
    throw new Error("digest() was already called");
}
function aoutput(out, instance) {
  abytes(out, void 0, "output");
  const min = instance.outputLen;
  if (!(out.length >= min)) {
    throw new RangeError('"output" expected length >= ' + min);
  }
}
function u322(arr) {
  return new Uint32Array(arr.buffer, arr.byteOffset, Math.floor(arr.byteLength / 4));
}
function clean(...arrays) {
  for (let i = 0; i < arrays.length; i++) {
    arrays[i].fill(0);
  }
}
function createView(arr) {
  return new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
}
function rotr(word, shift) {
  return word << 32 - shift | word >>> shift;
}
var isLE = /* @__PURE__ */ (() => new Uint8Array(new Uint32Array([287454020]).buffer)[0] === 68)();
function byteSwap(word) {
  return word << 24 & 4278190080 | word << 8 & 16711680 | word >>> 8 & 65280 | word >>> 24 & 255;
}
function byteSwap32(arr) {
  for (let i = 0; i < arr.length; i++) {
    arr[i] = byteSwap(arr[i]);
  }
  return arr;
}
var swap32IfBE = isLE ? (u) => u : byteSwap32;
var hasHexBuiltin = /* @__PURE__ */ (() => (
  // @ts-ignore
  typeof Uint8Array.from([]).toHex === "function" && typeof Uint8Array.fromHex === "function"
))();
var hexes = /* @__PURE__ */ Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
function bytesToHex(bytes) {
  abytes(bytes);
  if (hasHexBuiltin)
    return bytes.toHex();
  let hex3 = "";
  for (let i = 0; i < bytes.length; i++) {
    hex3 += hexes[bytes[i]];
  }
  return hex3;
}
function asciiToBase16(ch) {
  return ch >= 48 && ch <= 57 ? ch - 48 : ch >= 65 && ch <= 70 ? ch - (65 - 10) : ch >= 97 && ch <= 102 ? ch - (97 - 10) : void 0;
}
function hexToBytes(hex3) {
  if (typeof hex3 !== "string")
    throw new TypeError("hex string expected, got " + typeof hex3);
  if (hasHexBuiltin) {
    try {
      return Uint8Array.fromHex(hex3);
    } catch (error) {
      if (error instanceof SyntaxError)
        throw new RangeError(error.message);
      throw error;
    }
  }
  const hl = hex3.length;
  const al = hl / 2;
  if (hl % 2)
    throw new RangeError("hex string expected, got unpadded hex of length " + hl);
  const array = new Uint8Array(al);
  for (let ai = 0, hi = 0; ai < al; ai++, hi += 2) {
    const n1 = asciiToBase16(hex3.charCodeAt(hi));
    const n2 = asciiToBase16(hex3.charCodeAt(hi + 1));
    if (n1 === void 0 || n2 === void 0) {
      const char = hex3[hi] + hex3[hi + 1];
      throw new RangeError('hex string expected, got non-hex character "' + char + '" at index ' + hi);
    }
    array[ai] = n1 * 16 + n2;
  }
  return array;
}
function concatBytes2(...arrays) {
  let sum = 0;
  for (let i = 0; i < arrays.length; i++) {
    const a = arrays[i];
    abytes(a);
    sum += a.length;
  }
  const res = new Uint8Array(sum);
  for (let i = 0, pad = 0; i < arrays.length; i++) {
    const a = arrays[i];
    res.set(a, pad);
    pad += a.length;
  }
  return res;
}
function checkOpts(defaults, opts2, title = "opts") {
  aopts(defaults, "defaults");
  if (opts2 !== void 0)
    aopts(opts2, title);
  const merged = Object.assign(/* @__PURE__ */ Object.create(null), defaults, opts2);
  return merged;
}
function createHasher(hashCons, info = {}) {
  if (typeof hashCons !== "function")
    throw new TypeError('"hashCons" expected function, got type=' + typeof hashCons);
  info = checkOpts({}, info, "info");
  const hashC = (msg, opts2) => hashCons(opts2).update(msg).digest();
  const tmp = hashCons(void 0);
  hashC.outputLen = tmp.outputLen;
  hashC.blockLen = tmp.blockLen;
  hashC.canXOF = tmp.canXOF;
  hashC.create = (opts2) => hashCons(opts2);
  Object.assign(hashC, info);
  return Object.freeze(hashC);
}
function randomBytes(bytesLength = 32) {
  anumber(bytesLength, "bytesLength");
  const cr = typeof globalThis === "object" ? globalThis.crypto : null;
  if (typeof cr?.getRandomValues !== "function")
    throw new Error("crypto.getRandomValues must be defined");
  if (bytesLength > 65536)
    throw new RangeError(`"bytesLength" expected <= 65536, got ${bytesLength}`);
  return cr.getRandomValues(new Uint8Array(bytesLength));
}
var oidNist = (suffix) => ({
  // Current NIST hashAlgs suffixes used here fit in one DER subidentifier octet.
  // Larger suffix values would need base-128 OID encoding and a different length byte.
  oid: Uint8Array.from([6, 9, 96, 134, 72, 1, 101, 3, 4, 2, suffix])
});

// node_modules/@noble/hashes/_md.js
function Chi(a, b, c) {
  return a & b ^ ~a & c;
}
function Maj(a, b, c) {
  return a & b ^ a & c ^ b & c;
}
var HashMD = class {
  blockLen;
  outputLen;
  canXOF = false;
  padOffset;
  isLE;
  // For partial updates less than block size
  buffer;
  view;
  finished = false;
  length = 0;
  pos = 0;
  destroyed = false;
  constructor(blockLen, outputLen, padOffset, isLE2) {
    this.blockLen = blockLen;
    this.outputLen = outputLen;
    this.padOffset = padOffset;
    this.isLE = isLE2;
    this.buffer = new Uint8Array(blockLen);
    this.view = createView(this.buffer);
  }
  update(data) {
    aexists(this);
    abytes(data);
    const { view, buffer, blockLen } = this;
    const len = data.length;
    let processed = false;
    for (let pos = 0; pos < len; ) {
      const take = Math.min(blockLen - this.pos, len - pos);
      if (take === blockLen) {
        const dataView = createView(data);
        for (; blockLen <= len - pos; pos += blockLen)
          this.process(dataView, pos);
        processed = true;
        continue;
      }
      buffer.set(pos === 0 && take === len ? data : data.subarray(pos, pos + take), this.pos);
      this.pos += take;
      pos += take;
      if (this.pos === blockLen) {
        this.process(view, 0);
        this.pos = 0;
        processed = true;
      }
    }
    this.length += data.length;
    if (processed)
      this.roundClean();
    return this;
  }
  digestInto(out) {
    aexists(this);
    aoutput(out, this);
    this.finished = true;
    const { buffer, view, blockLen, isLE: isLE2 } = this;
    let { pos } = this;
    buffer[pos++] = 128;
    buffer.fill(0, pos);
    if (this.padOffset > blockLen - pos) {
      this.process(view, 0);
      buffer.fill(0);
    }
    setU64FromNum(view, blockLen - 8, this.length * 8, isLE2);
    this.process(view, 0);
    this.roundClean();
    const oview = out === buffer ? view : createView(out);
    const len = this.outputLen;
    const outLen = len / 4;
    const state = this.get();
    if (len % 4 || outLen > state.length)
      throw new Error("invalid outputLen");
    for (let i = 0; i < outLen; i++)
      oview.setUint32(4 * i, state[i], isLE2);
  }
  digest() {
    const { buffer, outputLen } = this;
    this.digestInto(buffer);
    const res = buffer.slice(0, outputLen);
    this.destroy();
    return res;
  }
  _cloneIntoMeta(to) {
    const { buffer, length, finished, destroyed, pos } = this;
    to.destroyed = destroyed;
    to.finished = finished;
    to.length = length;
    to.pos = pos;
    if (pos)
      to.buffer.set(buffer);
    return to;
  }
  clone() {
    return this._cloneInto();
  }
};
var SHA256_IV = /* @__PURE__ */ Uint32Array.from([
  1779033703,
  3144134277,
  1013904242,
  2773480762,
  1359893119,
  2600822924,
  528734635,
  1541459225
]);
var SHA384_IV = /* @__PURE__ */ Uint32Array.from([
  3418070365,
  3238371032,
  1654270250,
  914150663,
  2438529370,
  812702999,
  355462360,
  4144912697,
  1731405415,
  4290775857,
  2394180231,
  1750603025,
  3675008525,
  1694076839,
  1203062813,
  3204075428
]);
var SHA512_IV = /* @__PURE__ */ Uint32Array.from([
  1779033703,
  4089235720,
  3144134277,
  2227873595,
  1013904242,
  4271175723,
  2773480762,
  1595750129,
  1359893119,
  2917565137,
  2600822924,
  725511199,
  528734635,
  4215389547,
  1541459225,
  327033209
]);

// node_modules/@noble/hashes/sha2.js
var SHA256_K = /* @__PURE__ */ Uint32Array.from([
  1116352408,
  1899447441,
  3049323471,
  3921009573,
  961987163,
  1508970993,
  2453635748,
  2870763221,
  3624381080,
  310598401,
  607225278,
  1426881987,
  1925078388,
  2162078206,
  2614888103,
  3248222580,
  3835390401,
  4022224774,
  264347078,
  604807628,
  770255983,
  1249150122,
  1555081692,
  1996064986,
  2554220882,
  2821834349,
  2952996808,
  3210313671,
  3336571891,
  3584528711,
  113926993,
  338241895,
  666307205,
  773529912,
  1294757372,
  1396182291,
  1695183700,
  1986661051,
  2177026350,
  2456956037,
  2730485921,
  2820302411,
  3259730800,
  3345764771,
  3516065817,
  3600352804,
  4094571909,
  275423344,
  430227734,
  506948616,
  659060556,
  883997877,
  958139571,
  1322822218,
  1537002063,
  1747873779,
  1955562222,
  2024104815,
  2227730452,
  2361852424,
  2428436474,
  2756734187,
  3204031479,
  3329325298
]);
var SHA256_W = /* @__PURE__ */ new Uint32Array(64);
var SHA2_32B = class extends HashMD {
  // We cannot use array here since array allows indexing by variable
  // which means optimizer/compiler cannot use registers.
  // Numeric initializers matter: starting the fields as `undefined` changes
  // V8's field representation and makes sha256 3x slower (measured).
  A = 0;
  B = 0;
  C = 0;
  D = 0;
  E = 0;
  F = 0;
  G = 0;
  H = 0;
  constructor(outputLen, IV) {
    super(64, outputLen, 8, false);
    this.A = IV[0] | 0;
    this.B = IV[1] | 0;
    this.C = IV[2] | 0;
    this.D = IV[3] | 0;
    this.E = IV[4] | 0;
    this.F = IV[5] | 0;
    this.G = IV[6] | 0;
    this.H = IV[7] | 0;
  }
  get() {
    const { A, B: B2, C, D, E: E2, F: F3, G: G2, H: H2 } = this;
    return [A, B2, C, D, E2, F3, G2, H2];
  }
  // prettier-ignore
  set(A, B2, C, D, E2, F3, G2, H2) {
    this.A = A | 0;
    this.B = B2 | 0;
    this.C = C | 0;
    this.D = D | 0;
    this.E = E2 | 0;
    this.F = F3 | 0;
    this.G = G2 | 0;
    this.H = H2 | 0;
  }
  _cloneInto(to) {
    (to ||= new this.constructor()).set(...this.get());
    return this._cloneIntoMeta(to);
  }
  process(view, offset) {
    for (let i = 0; i < 16; i++, offset += 4)
      SHA256_W[i] = view.getUint32(offset, false);
    for (let i = 16; i < 64; i++) {
      const W15 = SHA256_W[i - 15];
      const W2 = SHA256_W[i - 2];
      const s0 = rotr(W15, 7) ^ rotr(W15, 18) ^ W15 >>> 3;
      const s1 = rotr(W2, 17) ^ rotr(W2, 19) ^ W2 >>> 10;
      SHA256_W[i] = s1 + SHA256_W[i - 7] + s0 + SHA256_W[i - 16] | 0;
    }
    let { A, B: B2, C, D, E: E2, F: F3, G: G2, H: H2 } = this;
    for (let i = 0; i < 64; i++) {
      const sigma1 = rotr(E2, 6) ^ rotr(E2, 11) ^ rotr(E2, 25);
      const T1 = H2 + sigma1 + Chi(E2, F3, G2) + SHA256_K[i] + SHA256_W[i] | 0;
      const sigma0 = rotr(A, 2) ^ rotr(A, 13) ^ rotr(A, 22);
      const T2 = sigma0 + Maj(A, B2, C) | 0;
      H2 = G2;
      G2 = F3;
      F3 = E2;
      E2 = D + T1 | 0;
      D = C;
      C = B2;
      B2 = A;
      A = T1 + T2 | 0;
    }
    A = A + this.A | 0;
    B2 = B2 + this.B | 0;
    C = C + this.C | 0;
    D = D + this.D | 0;
    E2 = E2 + this.E | 0;
    F3 = F3 + this.F | 0;
    G2 = G2 + this.G | 0;
    H2 = H2 + this.H | 0;
    this.set(A, B2, C, D, E2, F3, G2, H2);
  }
  roundClean() {
    clean(SHA256_W);
  }
  destroy() {
    this.destroyed = true;
    this.set(0, 0, 0, 0, 0, 0, 0, 0);
    clean(this.buffer);
  }
};
var _SHA256 = class extends SHA2_32B {
  constructor() {
    super(32, SHA256_IV);
  }
};
var K512 = /* @__PURE__ */ (() => split([
  "0x428a2f98d728ae22",
  "0x7137449123ef65cd",
  "0xb5c0fbcfec4d3b2f",
  "0xe9b5dba58189dbbc",
  "0x3956c25bf348b538",
  "0x59f111f1b605d019",
  "0x923f82a4af194f9b",
  "0xab1c5ed5da6d8118",
  "0xd807aa98a3030242",
  "0x12835b0145706fbe",
  "0x243185be4ee4b28c",
  "0x550c7dc3d5ffb4e2",
  "0x72be5d74f27b896f",
  "0x80deb1fe3b1696b1",
  "0x9bdc06a725c71235",
  "0xc19bf174cf692694",
  "0xe49b69c19ef14ad2",
  "0xefbe4786384f25e3",
  "0x0fc19dc68b8cd5b5",
  "0x240ca1cc77ac9c65",
  "0x2de92c6f592b0275",
  "0x4a7484aa6ea6e483",
  "0x5cb0a9dcbd41fbd4",
  "0x76f988da831153b5",
  "0x983e5152ee66dfab",
  "0xa831c66d2db43210",
  "0xb00327c898fb213f",
  "0xbf597fc7beef0ee4",
  "0xc6e00bf33da88fc2",
  "0xd5a79147930aa725",
  "0x06ca6351e003826f",
  "0x142929670a0e6e70",
  "0x27b70a8546d22ffc",
  "0x2e1b21385c26c926",
  "0x4d2c6dfc5ac42aed",
  "0x53380d139d95b3df",
  "0x650a73548baf63de",
  "0x766a0abb3c77b2a8",
  "0x81c2c92e47edaee6",
  "0x92722c851482353b",
  "0xa2bfe8a14cf10364",
  "0xa81a664bbc423001",
  "0xc24b8b70d0f89791",
  "0xc76c51a30654be30",
  "0xd192e819d6ef5218",
  "0xd69906245565a910",
  "0xf40e35855771202a",
  "0x106aa07032bbd1b8",
  "0x19a4c116b8d2d0c8",
  "0x1e376c085141ab53",
  "0x2748774cdf8eeb99",
  "0x34b0bcb5e19b48a8",
  "0x391c0cb3c5c95a63",
  "0x4ed8aa4ae3418acb",
  "0x5b9cca4f7763e373",
  "0x682e6ff3d6b2b8a3",
  "0x748f82ee5defb2fc",
  "0x78a5636f43172f60",
  "0x84c87814a1f0ab72",
  "0x8cc702081a6439ec",
  "0x90befffa23631e28",
  "0xa4506cebde82bde9",
  "0xbef9a3f7b2c67915",
  "0xc67178f2e372532b",
  "0xca273eceea26619c",
  "0xd186b8c721c0c207",
  "0xeada7dd6cde0eb1e",
  "0xf57d4f7fee6ed178",
  "0x06f067aa72176fba",
  "0x0a637dc5a2c898a6",
  "0x113f9804bef90dae",
  "0x1b710b35131c471b",
  "0x28db77f523047d84",
  "0x32caab7b40c72493",
  "0x3c9ebe0a15c9bebc",
  "0x431d67c49c100d4c",
  "0x4cc5d4becb3e42b6",
  "0x597f299cfc657e2a",
  "0x5fcb6fab3ad6faec",
  "0x6c44198c4a475817"
].map((n) => BigInt(n))))();
var SHA512_Kh = /* @__PURE__ */ (() => K512[0])();
var SHA512_Kl = /* @__PURE__ */ (() => K512[1])();
var SHA512_W_H = /* @__PURE__ */ new Uint32Array(80);
var SHA512_W_L = /* @__PURE__ */ new Uint32Array(80);
var SHA2_64B = class extends HashMD {
  // We cannot use array here since array allows indexing by variable
  // which means optimizer/compiler cannot use registers.
  // h -- high 32 bits, l -- low 32 bits
  // Numeric initializers matter: starting the fields as `undefined` changes
  // V8's field representation and slows hashing down (measured on sha256).
  Ah = 0;
  Al = 0;
  Bh = 0;
  Bl = 0;
  Ch = 0;
  Cl = 0;
  Dh = 0;
  Dl = 0;
  Eh = 0;
  El = 0;
  Fh = 0;
  Fl = 0;
  Gh = 0;
  Gl = 0;
  Hh = 0;
  Hl = 0;
  constructor(outputLen, IV) {
    super(128, outputLen, 16, false);
    this.Ah = IV[0] | 0;
    this.Al = IV[1] | 0;
    this.Bh = IV[2] | 0;
    this.Bl = IV[3] | 0;
    this.Ch = IV[4] | 0;
    this.Cl = IV[5] | 0;
    this.Dh = IV[6] | 0;
    this.Dl = IV[7] | 0;
    this.Eh = IV[8] | 0;
    this.El = IV[9] | 0;
    this.Fh = IV[10] | 0;
    this.Fl = IV[11] | 0;
    this.Gh = IV[12] | 0;
    this.Gl = IV[13] | 0;
    this.Hh = IV[14] | 0;
    this.Hl = IV[15] | 0;
  }
  // prettier-ignore
  get() {
    const { Ah, Al, Bh, Bl, Ch, Cl, Dh, Dl, Eh, El, Fh, Fl, Gh, Gl, Hh, Hl } = this;
    return [Ah, Al, Bh, Bl, Ch, Cl, Dh, Dl, Eh, El, Fh, Fl, Gh, Gl, Hh, Hl];
  }
  // prettier-ignore
  set(Ah, Al, Bh, Bl, Ch, Cl, Dh, Dl, Eh, El, Fh, Fl, Gh, Gl, Hh, Hl) {
    this.Ah = Ah | 0;
    this.Al = Al | 0;
    this.Bh = Bh | 0;
    this.Bl = Bl | 0;
    this.Ch = Ch | 0;
    this.Cl = Cl | 0;
    this.Dh = Dh | 0;
    this.Dl = Dl | 0;
    this.Eh = Eh | 0;
    this.El = El | 0;
    this.Fh = Fh | 0;
    this.Fl = Fl | 0;
    this.Gh = Gh | 0;
    this.Gl = Gl | 0;
    this.Hh = Hh | 0;
    this.Hl = Hl | 0;
  }
  _cloneInto(to) {
    (to ||= new this.constructor()).set(...this.get());
    return this._cloneIntoMeta(to);
  }
  process(view, offset) {
    for (let i = 0; i < 16; i++, offset += 4) {
      SHA512_W_H[i] = view.getUint32(offset);
      SHA512_W_L[i] = view.getUint32(offset += 4);
    }
    for (let i = 16; i < 80; i++) {
      const W15h = SHA512_W_H[i - 15] | 0;
      const W15l = SHA512_W_L[i - 15] | 0;
      const s0h = rotrSH(W15h, W15l, 1) ^ rotrSH(W15h, W15l, 8) ^ shrSH(W15h, W15l, 7);
      const s0l = rotrSL(W15h, W15l, 1) ^ rotrSL(W15h, W15l, 8) ^ shrSL(W15h, W15l, 7);
      const W2h = SHA512_W_H[i - 2] | 0;
      const W2l = SHA512_W_L[i - 2] | 0;
      const s1h = rotrSH(W2h, W2l, 19) ^ rotrBH(W2h, W2l, 61) ^ shrSH(W2h, W2l, 6);
      const s1l = rotrSL(W2h, W2l, 19) ^ rotrBL(W2h, W2l, 61) ^ shrSL(W2h, W2l, 6);
      const SUMl = add4L(s0l, s1l, SHA512_W_L[i - 7], SHA512_W_L[i - 16]);
      const SUMh = add4H(SUMl, s0h, s1h, SHA512_W_H[i - 7], SHA512_W_H[i - 16]);
      SHA512_W_H[i] = SUMh | 0;
      SHA512_W_L[i] = SUMl | 0;
    }
    let { Ah, Al, Bh, Bl, Ch, Cl, Dh, Dl, Eh, El, Fh, Fl, Gh, Gl, Hh, Hl } = this;
    for (let i = 0; i < 80; i++) {
      const sigma1h = rotrSH(Eh, El, 14) ^ rotrSH(Eh, El, 18) ^ rotrBH(Eh, El, 41);
      const sigma1l = rotrSL(Eh, El, 14) ^ rotrSL(Eh, El, 18) ^ rotrBL(Eh, El, 41);
      const CHIh = Eh & Fh ^ ~Eh & Gh;
      const CHIl = El & Fl ^ ~El & Gl;
      const T1ll = add5L(Hl, sigma1l, CHIl, SHA512_Kl[i], SHA512_W_L[i]);
      const T1h = add5H(T1ll, Hh, sigma1h, CHIh, SHA512_Kh[i], SHA512_W_H[i]);
      const T1l = T1ll | 0;
      const sigma0h = rotrSH(Ah, Al, 28) ^ rotrBH(Ah, Al, 34) ^ rotrBH(Ah, Al, 39);
      const sigma0l = rotrSL(Ah, Al, 28) ^ rotrBL(Ah, Al, 34) ^ rotrBL(Ah, Al, 39);
      const MAJh = Ah & Bh ^ Ah & Ch ^ Bh & Ch;
      const MAJl = Al & Bl ^ Al & Cl ^ Bl & Cl;
      Hh = Gh | 0;
      Hl = Gl | 0;
      Gh = Fh | 0;
      Gl = Fl | 0;
      Fh = Eh | 0;
      Fl = El | 0;
      ({ h: Eh, l: El } = add(Dh | 0, Dl | 0, T1h | 0, T1l | 0));
      Dh = Ch | 0;
      Dl = Cl | 0;
      Ch = Bh | 0;
      Cl = Bl | 0;
      Bh = Ah | 0;
      Bl = Al | 0;
      const All = add3L(T1l, sigma0l, MAJl);
      Ah = add3H(All, T1h, sigma0h, MAJh);
      Al = All | 0;
    }
    ({ h: Ah, l: Al } = add(this.Ah | 0, this.Al | 0, Ah | 0, Al | 0));
    ({ h: Bh, l: Bl } = add(this.Bh | 0, this.Bl | 0, Bh | 0, Bl | 0));
    ({ h: Ch, l: Cl } = add(this.Ch | 0, this.Cl | 0, Ch | 0, Cl | 0));
    ({ h: Dh, l: Dl } = add(this.Dh | 0, this.Dl | 0, Dh | 0, Dl | 0));
    ({ h: Eh, l: El } = add(this.Eh | 0, this.El | 0, Eh | 0, El | 0));
    ({ h: Fh, l: Fl } = add(this.Fh | 0, this.Fl | 0, Fh | 0, Fl | 0));
    ({ h: Gh, l: Gl } = add(this.Gh | 0, this.Gl | 0, Gh | 0, Gl | 0));
    ({ h: Hh, l: Hl } = add(this.Hh | 0, this.Hl | 0, Hh | 0, Hl | 0));
    this.set(Ah, Al, Bh, Bl, Ch, Cl, Dh, Dl, Eh, El, Fh, Fl, Gh, Gl, Hh, Hl);
  }
  roundClean() {
    clean(SHA512_W_H, SHA512_W_L);
  }
  destroy() {
    this.destroyed = true;
    clean(this.buffer);
    this.set(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  }
};
var _SHA512 = class extends SHA2_64B {
  constructor() {
    super(64, SHA512_IV);
  }
};
var _SHA384 = class extends SHA2_64B {
  constructor() {
    super(48, SHA384_IV);
  }
};
var sha256 = /* @__PURE__ */ createHasher(
  () => new _SHA256(),
  /* @__PURE__ */ oidNist(1)
);
var sha512 = /* @__PURE__ */ createHasher(
  () => new _SHA512(),
  /* @__PURE__ */ oidNist(3)
);
var sha384 = /* @__PURE__ */ createHasher(
  () => new _SHA384(),
  /* @__PURE__ */ oidNist(2)
);

// node_modules/@noble/curves/utils.js
function aarray(item, title, inner = () => {
}) {
  if (!Array.isArray(item))
    throw new TypeError(`"${title}" expected array, got type=${typeof item}`);
  for (let i = 0; i < item.length; i++)
    inner(item[i], `${title}[${i}]`);
  return item;
}
var abytes2 = (value, length, title) => abytes(value, length, title);
var anumber2 = anumber;
function astring(value, title = "") {
  if (typeof value !== "string") {
    const prefix = title && `"${title}" `;
    throw new TypeError(prefix + "expected string, got type=" + typeof value);
  }
  return value;
}
function aobject2(value, title = "object") {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new TypeError(title === "object" ? "expected valid options object" : `"${title}" expected object, got type=${typeof value}`);
  return value;
}
function afunction(value, title) {
  if (typeof value !== "function")
    throw new TypeError(`"${title}" is invalid: expected function, got ${typeof value}`);
  return value;
}
var bytesToHex2 = bytesToHex;
var concatBytes3 = (...arrays) => concatBytes2(...arrays);
var hexToBytes2 = (hex3) => hexToBytes(hex3);
var isBytes2 = isBytes;
var randomBytes2 = (bytesLength) => randomBytes(bytesLength);
var _0n = /* @__PURE__ */ BigInt(0);
var _1n = /* @__PURE__ */ BigInt(1);
var atitle2 = (title) => title ? `"${title}" ` : "";
function abool2(value, title = "") {
  if (typeof value !== "boolean")
    throw new TypeError(atitle2(title) + "expected boolean, got type=" + typeof value);
  return value;
}
function abignumber(n) {
  if (typeof n === "bigint") {
    if (!isPosBig(n))
      throw new RangeError("positive bigint expected, got " + n);
  } else
    anumber2(n);
  return n;
}
function asafenumber(value, title = "") {
  if (typeof value !== "number") {
    const prefix = title && `"${title}" `;
    throw new TypeError(prefix + "expected number, got type=" + typeof value);
  }
  if (!Number.isSafeInteger(value)) {
    const prefix = title && `"${title}" `;
    throw new RangeError(prefix + "expected safe integer, got " + value);
  }
}
function numberToHexUnpadded(num) {
  const hex3 = abignumber(num).toString(16);
  return hex3.length & 1 ? "0" + hex3 : hex3;
}
function hexToNumber(hex3) {
  if (typeof hex3 !== "string")
    throw new TypeError("hex string expected, got " + typeof hex3);
  return hex3 === "" ? _0n : BigInt("0x" + hex3);
}
function bytesToNumberBE(bytes) {
  return hexToNumber(bytesToHex(bytes));
}
function bytesToNumberLE(bytes) {
  return hexToNumber(bytesToHex(copyBytes(abytes(bytes)).reverse()));
}
function numberToBytesBE(n, len) {
  anumber(len);
  if (len === 0)
    throw new Error("zero output length is invalid");
  n = abignumber(n);
  const expectedLen = len * 2;
  const hex3 = n.toString(16);
  if (hex3.length > expectedLen)
    throw new RangeError("number is too large");
  return hexToBytes(hex3.padStart(expectedLen, "0"));
}
function numberToBytesLE(n, len) {
  return numberToBytesBE(n, len).reverse();
}
function copyBytes(bytes) {
  return Uint8Array.from(abytes2(bytes));
}
function isPosBig(n) {
  return typeof n === "bigint" && _0n <= n;
}
function inRange(n, min, max) {
  return isPosBig(n) && isPosBig(min) && isPosBig(max) && min <= n && n < max;
}
function aInRange(title, n, min, max) {
  if (!inRange(n, min, max))
    throw new RangeError("expected valid " + title + ": " + min + " <= n < " + max + ", got " + n);
}
function bitLen(n) {
  if (n < _0n)
    throw new Error("expected non-negative bigint, got " + n);
  return n === _0n ? 0 : n.toString(2).length;
}
var bitMask = (n) => {
  asafenumber(n, "n");
  return (_1n << BigInt(n)) - _1n;
};
function createHmacDrbg(hashLen, qByteLen, hmacFn) {
  anumber(hashLen, "hashLen");
  anumber(qByteLen, "qByteLen");
  if (typeof hmacFn !== "function")
    throw new TypeError("hmacFn must be a function");
  const u8n = (len) => new Uint8Array(len);
  const NULL = Uint8Array.of();
  const byte0 = Uint8Array.of(0);
  const byte1 = Uint8Array.of(1);
  const _maxDrbgIters = 1e3;
  let v = u8n(hashLen);
  let k = u8n(hashLen);
  let i = 0;
  const reset = () => {
    v.fill(1);
    k.fill(0);
    i = 0;
  };
  const h = (...msgs) => hmacFn(k, concatBytes3(v, ...msgs));
  const reseed = (seed = NULL) => {
    k = h(byte0, seed);
    v = h();
    if (seed.length === 0)
      return;
    k = h(byte1, seed);
    v = h();
  };
  const gen = () => {
    if (i++ >= _maxDrbgIters)
      throw new Error("drbg: tried max amount of iterations");
    let len = 0;
    const out = [];
    while (len < qByteLen) {
      v = h();
      const sl = v.slice();
      out.push(sl);
      len += v.length;
    }
    return concatBytes3(...out);
  };
  const genUntil = (seed, pred) => {
    reset();
    reseed(seed);
    let res = void 0;
    while ((res = pred(gen())) === void 0)
      reseed();
    reset();
    return res;
  };
  return genUntil;
}
function validateObject(object, fields = {}, optFields = {}, title = "object") {
  aobject2(object, title);
  aobject2(fields, "fields");
  aobject2(optFields, "optFields");
  function checkField(fieldName, expectedType, isOpt) {
    const label = title === "object" ? `param "${String(fieldName)}"` : `"${title}.${String(fieldName)}"`;
    const val = object[fieldName];
    if (!Object.hasOwn(object, fieldName) && (isOpt ? val !== void 0 : expectedType !== "function")) {
      throw new TypeError(`${label} is invalid: expected own property`);
    }
    if (isOpt && val === void 0)
      return;
    const current = typeof val;
    if (current !== expectedType || val === null)
      throw new TypeError(`${label} is invalid: expected ${expectedType}, got ${current}`);
  }
  const iter = (f, isOpt) => Object.entries(f).forEach(([k, v]) => checkField(k, v, isOpt));
  iter(fields, false);
  iter(optFields, true);
}

// node_modules/@noble/curves/abstract/modular.js
var _0n2 = /* @__PURE__ */ BigInt(0);
var _1n2 = /* @__PURE__ */ BigInt(1);
var _2n = /* @__PURE__ */ BigInt(2);
var _3n = /* @__PURE__ */ BigInt(3);
var _4n = /* @__PURE__ */ BigInt(4);
var _5n = /* @__PURE__ */ BigInt(5);
var _7n = /* @__PURE__ */ BigInt(7);
var _8n = /* @__PURE__ */ BigInt(8);
var _9n = /* @__PURE__ */ BigInt(9);
var _15n = /* @__PURE__ */ BigInt(15);
var _16n = /* @__PURE__ */ BigInt(16);
var POW_WINDOWED_MIN = /* @__PURE__ */ BigInt("0x10000000000000000");
function mod(a, b) {
  if (b <= _0n2)
    throw new Error("mod: expected positive modulus, got " + b);
  const result = a % b;
  return result >= _0n2 ? result : b + result;
}
function pow(num, power, modulo) {
  if (modulo <= _1n2)
    throw new Error("pow: expected modulus > 1, got " + modulo);
  if (typeof power !== "bigint")
    throw new TypeError("invalid exponent: expected bigint, got " + typeof power);
  if (power < _0n2)
    throw new Error("invalid exponent, negatives unsupported");
  if (power === _0n2)
    return _1n2;
  if (power === _1n2)
    return num;
  let d = num % modulo;
  if (d < _0n2)
    d += modulo;
  if (power < POW_WINDOWED_MIN) {
    let p2 = _1n2;
    while (power > _0n2) {
      if (power & _1n2)
        p2 = p2 * d % modulo;
      d = d * d % modulo;
      power >>= _1n2;
    }
    return p2;
  }
  const digits = [];
  while (power > _0n2) {
    digits.push(Number(power & _15n));
    power >>= _4n;
  }
  const table = new Array(16);
  table[0] = _1n2;
  table[1] = d;
  for (let i = 2; i < 16; i++)
    table[i] = table[i - 1] * d % modulo;
  let p = table[digits[digits.length - 1]];
  for (let w = digits.length - 2; w >= 0; w--) {
    p = p * p % modulo;
    p = p * p % modulo;
    p = p * p % modulo;
    p = p * p % modulo;
    const digit = digits[w];
    if (digit !== 0)
      p = p * table[digit] % modulo;
  }
  return p;
}
function pow2(x, power, modulo) {
  if (modulo <= _1n2)
    throw new Error("pow2: expected modulus > 1, got " + modulo);
  if (power < _0n2)
    throw new Error("pow2: expected non-negative exponent, got " + power);
  let res = x;
  while (power-- > _0n2) {
    res *= res;
    res %= modulo;
  }
  return res;
}
function invert(number, modulo) {
  if (number === _0n2)
    throw new Error("invert: expected non-zero number");
  if (modulo <= _1n2)
    throw new Error("invert: expected modulus > 1, got " + modulo);
  let a = mod(number, modulo);
  let b = modulo;
  let x = _0n2, u = _1n2;
  while (a !== _0n2) {
    const q = b / a;
    const r = b - a * q;
    const m = x - u * q;
    b = a, a = r, x = u, u = m;
  }
  const gcd = b;
  if (gcd !== _1n2)
    throw new Error("invert: does not exist");
  return mod(x, modulo);
}
function invertCt(a, prime) {
  if (prime <= _1n2)
    throw new Error("invertCt: expected prime modulus > 1, got " + prime);
  const an = mod(a, prime);
  if (an === _0n2)
    throw new Error("invertCt: expected non-zero number");
  const inverse = pow(an, prime - _2n, prime);
  if (mod(an * inverse, prime) !== _1n2)
    throw new Error("invertCt: does not exist");
  return inverse;
}
function assertIsSquare(Fp2, root, n) {
  const F3 = Fp2;
  if (!F3.eql(F3.sqr(root), n))
    throw new Error("Cannot find square root");
}
function aoddModulus(order, fnName) {
  if ((order & _1n2) === _0n2)
    throw new Error(fnName + ": expected odd modulus, got " + order);
}
function sqrt3mod4(Fp2, n) {
  const F3 = Fp2;
  const p1div4 = (F3.ORDER + _1n2) / _4n;
  const root = F3.pow(n, p1div4);
  assertIsSquare(F3, root, n);
  return root;
}
function sqrt5mod8(Fp2, n) {
  const F3 = Fp2;
  const p5div8 = (F3.ORDER - _5n) / _8n;
  const n2 = F3.mul(n, _2n);
  const v = F3.pow(n2, p5div8);
  const nv = F3.mul(n, v);
  const i = F3.mul(F3.mul(nv, _2n), v);
  const root = F3.mul(nv, F3.sub(i, F3.ONE));
  assertIsSquare(F3, root, n);
  return root;
}
function sqrt9mod16(P3) {
  const Fp_ = Field(P3);
  const tn = tonelliShanks(P3);
  const c1 = tn(Fp_, Fp_.neg(Fp_.ONE));
  const c2 = tn(Fp_, c1);
  const c3 = tn(Fp_, Fp_.neg(c1));
  const c4 = (P3 + _7n) / _16n;
  return ((Fp2, n) => {
    const F3 = Fp2;
    let tv1 = F3.pow(n, c4);
    let tv2 = F3.mul(tv1, c1);
    const tv3 = F3.mul(tv1, c2);
    const tv4 = F3.mul(tv1, c3);
    const e1 = F3.eql(F3.sqr(tv2), n);
    const e2 = F3.eql(F3.sqr(tv3), n);
    tv1 = F3.cmov(tv1, tv2, e1);
    tv2 = F3.cmov(tv4, tv3, e2);
    const e3 = F3.eql(F3.sqr(tv2), n);
    const root = F3.cmov(tv1, tv2, e3);
    assertIsSquare(F3, root, n);
    return root;
  });
}
function tonelliShanks(P3) {
  if (P3 < _3n)
    throw new Error("sqrt is not defined for small field");
  aoddModulus(P3, "tonelliShanks");
  let Q2 = P3 - _1n2;
  let S = 0;
  while (Q2 % _2n === _0n2) {
    Q2 /= _2n;
    S++;
  }
  let Z = _2n;
  const _Fp = Field(P3);
  while (FpLegendre(_Fp, Z) === 1) {
    if (Z++ > 1e3)
      throw new Error("Cannot find square root: probably non-prime P");
  }
  if (S === 1)
    return sqrt3mod4;
  let cc = _Fp.pow(Z, Q2);
  const Q1div2 = (Q2 + _1n2) / _2n;
  return function tonelliSlow(Fp2, n) {
    const F3 = Fp2;
    if (F3.is0(n))
      return n;
    if (FpLegendre(F3, n) !== 1)
      throw new Error("Cannot find square root");
    let M = S;
    let c = F3.mul(F3.ONE, cc);
    let t = F3.pow(n, Q2);
    let R = F3.pow(n, Q1div2);
    while (!F3.eql(t, F3.ONE)) {
      if (F3.is0(t))
        throw new Error("Cannot find square root: probably non-prime P");
      let i = 1;
      let t_tmp = F3.sqr(t);
      while (!F3.eql(t_tmp, F3.ONE)) {
        i++;
        t_tmp = F3.sqr(t_tmp);
        if (i === M)
          throw new Error("Cannot find square root");
      }
      const exponent = _1n2 << BigInt(M - i - 1);
      const b = F3.pow(c, exponent);
      M = i;
      c = F3.sqr(b);
      t = F3.mul(t, c);
      R = F3.mul(R, b);
    }
    return R;
  };
}
function FpSqrt(P3) {
  aoddModulus(P3, "Fp.sqrt");
  if (P3 % _4n === _3n)
    return sqrt3mod4;
  if (P3 % _8n === _5n)
    return sqrt5mod8;
  if (P3 % _16n === _9n)
    return sqrt9mod16(P3);
  return tonelliShanks(P3);
}
var isNegativeLE = (num, modulo) => (mod(num, modulo) & _1n2) === _1n2;
var FIELD_FIELDS = [
  "create",
  "isValid",
  "is0",
  "neg",
  "inv",
  "sqrt",
  "sqr",
  "eql",
  "add",
  "sub",
  "mul",
  "pow",
  "div",
  "addN",
  "subN",
  "mulN",
  "sqrN"
];
function validateField(field) {
  aobject2(field, "field");
  if (typeof field.ORDER !== "bigint")
    throw new TypeError('param "ORDER" is invalid: expected bigint, got ' + typeof field.ORDER);
  asafenumber(field.BYTES, "BYTES");
  asafenumber(field.BITS, "BITS");
  for (const name of FIELD_FIELDS)
    afunction(field[name], "field." + name);
  if (field.BYTES < 1 || field.BITS < 1)
    throw new Error("invalid field: expected BYTES/BITS > 0");
  if (field.ORDER <= _1n2)
    throw new Error("invalid field: expected ORDER > 1, got " + field.ORDER);
  return field;
}
function FpInvertBatch(Fp2, nums, passZero = false) {
  validateField(Fp2);
  aarray(nums, "nums");
  abool2(passZero, "passZero");
  const F3 = Fp2;
  const inverted = new Array(nums.length).fill(passZero ? F3.ZERO : void 0);
  const multipliedAcc = nums.reduce((acc, num, i) => {
    if (F3.is0(num))
      return acc;
    inverted[i] = acc;
    return F3.mul(acc, num);
  }, F3.ONE);
  const invertedAcc = F3.inv(multipliedAcc);
  nums.reduceRight((acc, num, i) => {
    if (F3.is0(num))
      return acc;
    inverted[i] = F3.mul(acc, inverted[i]);
    return F3.mul(acc, num);
  }, invertedAcc);
  return inverted;
}
function FpLegendre(Fp2, n) {
  validateField(Fp2);
  const F3 = Fp2;
  aoddModulus(F3.ORDER, "FpLegendre");
  const p1mod2 = (F3.ORDER - _1n2) / _2n;
  const powered = F3.pow(n, p1mod2);
  const yes = F3.eql(powered, F3.ONE);
  const zero = F3.eql(powered, F3.ZERO);
  const no = F3.eql(powered, F3.neg(F3.ONE));
  if (!yes && !zero && !no)
    throw new Error("invalid Legendre symbol result");
  return yes ? 1 : zero ? 0 : -1;
}
function nLength(n, nBitLength) {
  if (nBitLength !== void 0)
    anumber2(nBitLength);
  if (n <= _0n2)
    throw new Error("invalid n length: expected positive n, got " + n);
  if (nBitLength !== void 0 && nBitLength < 1)
    throw new Error("invalid n length: expected positive bit length, got " + nBitLength);
  const bits = bitLen(n);
  if (nBitLength !== void 0 && nBitLength < bits)
    throw new Error(`invalid n length: expected nBitLength (${nBitLength}) >= bitLen(n) (${bits})`);
  const _nBitLength = nBitLength !== void 0 ? nBitLength : bits;
  const nByteLength = Math.ceil(_nBitLength / 8);
  return { nBitLength: _nBitLength, nByteLength };
}
var FIELD_SQRT = /* @__PURE__ */ new WeakMap();
var _Field = class {
  ORDER;
  BITS;
  BYTES;
  isLE;
  ZERO = _0n2;
  ONE = _1n2;
  _lengths;
  _mod;
  constructor(ORDER, opts2 = {}) {
    if (ORDER <= _1n2)
      throw new Error("invalid field: expected ORDER > 1, got " + ORDER);
    let _nbitLength = void 0;
    this.isLE = false;
    if (opts2 != null && typeof opts2 === "object") {
      if (typeof opts2.BITS === "number")
        _nbitLength = opts2.BITS;
      if (typeof opts2.sqrt === "function")
        Object.defineProperty(this, "sqrt", { value: opts2.sqrt, enumerable: true });
      if (typeof opts2.isLE === "boolean")
        this.isLE = opts2.isLE;
      if (opts2.allowedLengths)
        this._lengths = Object.freeze(opts2.allowedLengths.slice());
      if (typeof opts2.modFromBytes === "boolean")
        this._mod = opts2.modFromBytes;
    }
    const { nBitLength, nByteLength } = nLength(ORDER, _nbitLength);
    if (nByteLength > 2048)
      throw new Error("invalid field: expected ORDER of <= 2048 bytes");
    this.ORDER = ORDER;
    this.BITS = nBitLength;
    this.BYTES = nByteLength;
    Object.freeze(this);
  }
  create(num) {
    return mod(num, this.ORDER);
  }
  isValid(num) {
    if (typeof num !== "bigint")
      throw new TypeError("invalid field element: expected bigint, got " + typeof num);
    return _0n2 <= num && num < this.ORDER;
  }
  is0(num) {
    return num === _0n2;
  }
  // is valid and invertible
  isValidNot0(num) {
    return !this.is0(num) && this.isValid(num);
  }
  isOdd(num) {
    return (num & _1n2) === _1n2;
  }
  neg(num) {
    return mod(-num, this.ORDER);
  }
  eql(lhs, rhs) {
    return lhs === rhs;
  }
  sqr(num) {
    return mod(num * num, this.ORDER);
  }
  add(lhs, rhs) {
    return mod(lhs + rhs, this.ORDER);
  }
  sub(lhs, rhs) {
    return mod(lhs - rhs, this.ORDER);
  }
  mul(lhs, rhs) {
    return mod(lhs * rhs, this.ORDER);
  }
  pow(num, power) {
    return pow(num, power, this.ORDER);
  }
  div(lhs, rhs) {
    return mod(lhs * invert(rhs, this.ORDER), this.ORDER);
  }
  // Same as above, but doesn't normalize
  sqrN(num) {
    return num * num;
  }
  addN(lhs, rhs) {
    return lhs + rhs;
  }
  subN(lhs, rhs) {
    return lhs - rhs;
  }
  mulN(lhs, rhs) {
    return lhs * rhs;
  }
  inv(num) {
    return invert(num, this.ORDER);
  }
  sqrt(num) {
    let sqrt = FIELD_SQRT.get(this);
    if (!sqrt)
      FIELD_SQRT.set(this, sqrt = FpSqrt(this.ORDER));
    return sqrt(this, num);
  }
  toBytes(num) {
    return this.isLE ? numberToBytesLE(num, this.BYTES) : numberToBytesBE(num, this.BYTES);
  }
  fromBytes(bytes, skipValidation = false) {
    abytes2(bytes);
    const { _lengths: allowedLengths, BYTES, isLE: isLE2, ORDER, _mod: modFromBytes } = this;
    if (allowedLengths) {
      if (bytes.length < 1 || !allowedLengths.includes(bytes.length) || bytes.length > BYTES) {
        throw new Error("Field.fromBytes: expected " + allowedLengths + " bytes, got " + bytes.length);
      }
      const padded = new Uint8Array(BYTES);
      padded.set(bytes, isLE2 ? 0 : padded.length - bytes.length);
      bytes = padded;
    }
    if (bytes.length !== BYTES)
      throw new Error("Field.fromBytes: expected " + BYTES + " bytes, got " + bytes.length);
    let scalar = isLE2 ? bytesToNumberLE(bytes) : bytesToNumberBE(bytes);
    if (modFromBytes)
      scalar = mod(scalar, ORDER);
    if (!skipValidation) {
      if (!this.isValid(scalar))
        throw new Error("invalid field element: outside of range 0..ORDER");
    }
    return scalar;
  }
  // TODO: we don't need it here, move out to separate fn
  invertBatch(lst) {
    return FpInvertBatch(this, lst, true);
  }
  // We can't move this out because Fp6, Fp12 implement it
  // and it's unclear what to return in there.
  cmov(a, b, condition) {
    abool2(condition, "condition");
    return condition ? b : a;
  }
};
function Field(ORDER, opts2 = {}) {
  Object.freeze(_Field.prototype);
  return new _Field(ORDER, opts2);
}
function getFieldBytesLength(fieldOrder) {
  if (typeof fieldOrder !== "bigint")
    throw new Error("field order must be bigint");
  if (fieldOrder <= _1n2)
    throw new Error("field order must be greater than 1");
  const bitLength = bitLen(fieldOrder - _1n2);
  return Math.ceil(bitLength / 8);
}
function getMinHashLength(fieldOrder) {
  const length = getFieldBytesLength(fieldOrder);
  return length + Math.ceil(length / 2);
}
function mapHashToField(key, fieldOrder, isLE2 = false) {
  abytes2(key);
  const len = key.length;
  const fieldLen = getFieldBytesLength(fieldOrder);
  const minLen = Math.max(getMinHashLength(fieldOrder), 16);
  if (len < minLen || len > 1024)
    throw new Error("expected " + minLen + "-1024 bytes of input, got " + len);
  const num = isLE2 ? bytesToNumberLE(key) : bytesToNumberBE(key);
  const reduced = mod(num, fieldOrder - _1n2) + _1n2;
  return isLE2 ? numberToBytesLE(reduced, fieldLen) : numberToBytesBE(reduced, fieldLen);
}

// node_modules/@noble/curves/abstract/curve.js
var _0n3 = /* @__PURE__ */ BigInt(0);
var _1n3 = /* @__PURE__ */ BigInt(1);
var _4n2 = /* @__PURE__ */ BigInt(4);
var BLIND_BYTES = 16;
var BLIND_BITS = 128;
var FW_WINDOW = 5;
var TABLE_BYTES_MAX = /* @__PURE__ */ (() => 2 ** 31)();
function validatePointCons(Point) {
  const pc = Point;
  if (typeof pc !== "function")
    throw new TypeError('"Point" expected constructor, got type=' + typeof Point);
  afunction(pc.fromAffine, "Point.fromAffine");
  afunction(pc.fromBytes, "Point.fromBytes");
  afunction(pc.fromHex, "Point.fromHex");
  aobject2(pc.BASE, "Point.BASE");
  aobject2(pc.ZERO, "Point.ZERO");
  validateField(pc.Fp);
  validateField(pc.Fn);
}
function normalizeZ(c, points) {
  validatePointCons(c);
  validateMSMPoints(points, c);
  const invertedZs = FpInvertBatch(c.Fp, points.map((p) => p.Z));
  return points.map((p, i) => c.fromAffine(p.toAffine(invertedZs[i])));
}
function validateW(W, bits, min = 1) {
  if (!Number.isSafeInteger(W) || W < min || W > bits)
    throw new Error("invalid window size, expected [" + min + ".." + bits + "], got W=" + W);
}
function validateTableBytes(numPoints, fpBytes) {
  const bytes = numPoints * (4 * fpBytes + 128);
  if (bytes > TABLE_BYTES_MAX)
    throw new Error("invalid window size: table would need ~" + Math.ceil(bytes / 2 ** 20) + " MiB, max " + TABLE_BYTES_MAX / 2 ** 20 + " MiB");
}
function probeRandomBytes(randomBytes5, length) {
  if (randomBytes5 === void 0)
    return void 0;
  afunction(randomBytes5, "randomBytes");
  try {
    const probe = randomBytes5(length);
    if (!isBytes2(probe) || probe.length !== length)
      return void 0;
  } catch {
    return void 0;
  }
  return randomBytes5;
}
function validateMSMPoints(points, c) {
  aarray(points, "points");
  points.forEach((p, i) => {
    if (!(p instanceof c))
      throw new Error("invalid point at index " + i);
  });
}
function validateMSMScalars(scalars, field, maxScalar) {
  if (!Array.isArray(scalars))
    throw new Error("array of scalars expected");
  scalars.forEach((s, i) => {
    const ok = maxScalar === void 0 ? field.isValid(s) : isPosBig(s) && s < maxScalar;
    if (!ok)
      throw new Error("invalid scalar at index " + i);
  });
}
var pointWindowSizes = /* @__PURE__ */ new WeakMap();
function getWindowSize(P3) {
  return pointWindowSizes.get(P3) || 1;
}
function oddMultiples(p, size) {
  const dbl = p.double();
  const t = [p];
  for (let j = 1; j < size; j++)
    t.push(t[j - 1].add(dbl));
  return t;
}
function wnafDigits(n, W) {
  const size = 2 ** W;
  const half = size / 2;
  const mask2 = BigInt(size - 1);
  const d = [];
  while (n > _0n3) {
    let w = 0;
    if (n & _1n3) {
      w = Number(n & mask2);
      if (w >= half)
        w -= size;
      n -= BigInt(w);
    }
    d.push(w);
    n >>= _1n3;
  }
  return d;
}
function signedWindowDigits(n, W, windows) {
  const size = 2 ** W;
  const half = size / 2;
  const mask2 = BigInt(size - 1);
  const shiftBy = BigInt(W);
  const d = [];
  for (let w = 0; w < windows; w++) {
    let v = Number(n & mask2);
    n >>= shiftBy;
    if (v > half) {
      v -= size;
      n += _1n3;
    }
    d.push(v);
  }
  if (n !== _0n3)
    throw new Error("invalid wnaf");
  return d;
}
function wnafWalk(zero, tables, digits) {
  let max = 0;
  for (const d of digits)
    max = Math.max(max, d.length);
  let acc = zero;
  for (let bit = max - 1; bit >= 0; bit--) {
    if (bit !== max - 1)
      acc = acc.double();
    for (let i = 0; i < digits.length; i++) {
      const w = digits[i][bit];
      if (w) {
        const item = tables[i][Math.abs(w) - 1 >> 1];
        acc = acc.add(w < 0 ? item.negate() : item);
      }
    }
  }
  return acc;
}
var ScalarMultiplier = class {
  Point;
  BASE;
  ZERO;
  randomBytes;
  wnafPrecomputes = /* @__PURE__ */ new WeakMap();
  baseCanBeBlinded;
  bits;
  // Parametrized with a given Point class (not individual point)
  constructor(Point, randomBytes5) {
    validatePointCons(Point);
    this.randomBytes = probeRandomBytes(randomBytes5, BLIND_BYTES);
    this.Point = Point;
    this.BASE = Point.BASE;
    this.ZERO = Point.ZERO;
    this.bits = Point.Fn.BITS;
  }
  /**
   * Creates a signed fixed-window wNAF precomputation table: for every window w, the
   * multiples `[1..2^(W−1)]⋅2^(w⋅W)⋅P`, flattened. All doublings are baked into the table,
   * so cached multiplication is additions-only. `windows = ceil(bits/W) + 1`: the extra
   * window absorbs the final carry of signed-digit recoding.
   * For a 256-bit curve and W=6, the table is 44⋅32 = 1408 points.
   * @param point - Point instance
   * @param W - window size
   * @param bits - scalar bitlength the table must cover
   */
  buildWnafTable(point, W, bits) {
    const windows = Math.ceil(bits / W) + 1;
    const half = 2 ** (W - 1);
    const comp = [];
    let base = point;
    for (let w = 0; w < windows; w++) {
      let acc = base;
      for (let i = 0; i < half; i++) {
        comp.push(acc);
        acc = acc.add(base);
      }
      base = comp[comp.length - 1].double();
    }
    return { W, bits, windows, comp };
  }
  /**
   * Implements ec multiplication using precomputed signed fixed-window wNAF tables.
   * Constant-time: fixed window count with one table addition per window — zero digits feed
   * the fake accumulator — and no doublings; the lookup scans the whole window slice.
   * Scalar bounds are validated by the public entry points ({@link ScalarMultiplier.mulCT},
   * {@link ScalarMultiplier.mulCTBlinded}, {@link ScalarMultiplier.mulUnsafe});
   * signedWindowDigits throws if `n` exceeds the table.
   * @returns real and fake (for const-time) points
   */
  wnafCachedCT(precomputes, n) {
    const { W, windows, comp } = precomputes;
    const half = 2 ** (W - 1);
    const digits = signedWindowDigits(n, W, windows);
    let p = this.ZERO;
    let f = this.BASE;
    for (let w = 0; w < windows; w++) {
      const digit = digits[w];
      const start = w * half;
      const idx = Math.abs(digit) - 1;
      let sel = comp[start];
      for (let i = 1; i < half; i++)
        sel = i === idx ? comp[start + i] : sel;
      const neg = sel.negate();
      if (digit === 0)
        f = f.add(comp[start]);
      else
        p = p.add(digit < 0 ? neg : sel);
    }
    return { p, f };
  }
  // Cache key is point identity plus (W, bits); at most two entries exist per point (public-width
  // `Fn.BITS` and blinded `Fn.BITS + BLIND_BITS`). Callers must not reuse the same point with
  // incompatible `transform(...)` layouts and expect a separate cache entry.
  getWnafPrecomputes(W, point, bits, transform) {
    let entries = this.wnafPrecomputes.get(point);
    let comp = entries?.find((entry) => entry.W === W && entry.bits === bits);
    if (!comp) {
      comp = this.buildWnafTable(point, W, bits);
      if (typeof transform === "function")
        comp = { ...comp, comp: transform(comp.comp) };
      if (!entries) {
        entries = [];
        this.wnafPrecomputes.set(point, entries);
      }
      entries.push(comp);
    }
    return comp;
  }
  assertPoint(point) {
    if (!(point instanceof this.Point))
      throw new TypeError('"point" expected Point instance, got type=' + typeof point);
  }
  // Shared prologue of the constant-time entry points. Rejects scalar 0: in key/signature-style
  // callers a zero scalar means broken upstream plumbing, and concrete Points already reject it.
  // Uses inRange instead of Fn.isValidNot0: validateField() only certifies the arithmetic subset.
  validateMulInput(point, scalar) {
    this.assertPoint(point);
    if (!inRange(scalar, _1n3, this.Point.Fn.ORDER))
      throw new Error("invalid scalar");
  }
  // Constant-time dispatch shared by mulCT / mulCTBlinded. Un-precomputed points (W===1, e.g.
  // ECDH peer keys) skip building a throwaway cached table in favor of a small fixed-window
  // multiply. `n` must be < 2^bits.
  runCT(point, n, bits, transform) {
    const W = getWindowSize(point);
    if (W === 1)
      return this.fixedWindowCT(point, n, bits);
    return this.wnafCachedCT(this.getWnafPrecomputes(W, point, bits, transform), n);
  }
  mulCT(point, scalar, transform) {
    this.validateMulInput(point, scalar);
    return this.runCT(point, scalar, this.bits, transform);
  }
  mulCTBlinded(point, scalar, transform) {
    this.validateMulInput(point, scalar);
    if (this.randomBytes === void 0)
      throw new Error("randomBytes is required for scalar blinding");
    const bits = this.Point.Fn.BITS + BLIND_BITS;
    const blind = this.randomBytes(BLIND_BYTES);
    if (!isBytes2(blind) || blind.length !== BLIND_BYTES)
      throw new Error("randomBytes returned invalid byte array");
    blind[0] = blind[0] & 63 | 128;
    const n = scalar + bytesToNumberBE(blind) * this.Point.Fn.ORDER;
    return this.runCT(point, n, bits, transform);
  }
  /**
   * Constant-time multiplication `n*point` for an un-precomputed point, via a small fixed window.
   * A cached wNAF table only pays off when reused; a flat 2^FW_WINDOW table (`size-1` adds) is
   * far cheaper to build for a single use. The point-operation sequence is independent of `n`:
   * build the table, then per window exactly FW_WINDOW doublings, a data-oblivious scan over
   * every table entry, and one addition (adds the identity when the window digit is 0 — never
   * skipped).
   *
   * `n` must be `< 2^bits`. Assumes complete addition (adding the identity costs the same as any
   * add), which holds for the Weierstrass/Edwards point types used here. The table is left in
   * projective form (no normalizeZ): normalizing this small a table costs more than the
   * mixed-add savings it would buy for a single multiply.
   * @returns real point `p`; `f` duplicates it only to match {@link wnafCachedCT}'s return shape
   * (this path needs no fake accumulator — its op-count is already scalar-independent).
   */
  fixedWindowCT(point, n, bits) {
    const W = FW_WINDOW;
    const size = 1 << W;
    const mask2 = bitMask(W);
    const table = new Array(size);
    table[0] = this.ZERO;
    for (let i = 1; i < size; i++)
      table[i] = table[i - 1].add(point);
    const windows = Math.ceil(bits / W);
    let acc = this.ZERO;
    for (let window = windows - 1; window >= 0; window--) {
      if (window !== windows - 1)
        for (let d = 0; d < W; d++)
          acc = acc.double();
      const digit = Number(n >> BigInt(window * W) & mask2);
      let sel = table[0];
      for (let i = 1; i < size; i++)
        sel = i === digit ? table[i] : sel;
      acc = acc.add(sel);
    }
    return { p: acc, f: acc };
  }
  shouldBlind(point, cofactor) {
    if (this.randomBytes === void 0)
      return false;
    if (cofactor === _1n3)
      return true;
    if (point !== this.BASE)
      return false;
    if (this.baseCanBeBlinded === void 0)
      this.baseCanBeBlinded = this.mulUnsafe(this.BASE, this.Point.Fn.ORDER).is0();
    return this.baseCanBeBlinded;
  }
  mulSecret(point, scalar, cofactor, transform) {
    return this.shouldBlind(point, cofactor) ? this.mulCTBlinded(point, scalar, transform) : this.mulCT(point, scalar, transform);
  }
  mulUnsafe(point, scalar, transform) {
    this.assertPoint(point);
    if (!isPosBig(scalar))
      throw new Error("invalid scalar");
    const W = getWindowSize(point);
    if (W === 1 || scalar >= this.Point.Fn.ORDER)
      return mulAddUnsafe(this.Point, [point], [scalar], true);
    const precomputes = this.getWnafPrecomputes(W, point, this.bits, transform);
    return this.wnafCachedCT(precomputes, scalar).p;
  }
  // Remembers the window size used for precomputed wNAF multiplication of the given point
  // and drops any previously built tables. Usually only the base point is precomputed.
  // W=1 resets the point to the un-precomputed (table-less) paths.
  // W is additionally capped so tables stay under ~2 GiB ({@link TABLE_BYTES_MAX}).
  setWindowSize(point, W) {
    this.assertPoint(point);
    validateW(W, this.bits);
    const windows = Math.ceil((this.bits + BLIND_BITS) / W) + 1;
    validateTableBytes(windows * 2 ** (W - 1), this.Point.Fp.BYTES);
    pointWindowSizes.set(point, W);
    this.wnafPrecomputes.delete(point);
  }
  // True when a window size is set: tables themselves are built lazily on first multiply.
  hasWindowSize(point) {
    return getWindowSize(point) !== 1;
  }
};
function mulAddUnsafe(c, points, scalars, allowOversized = false) {
  validatePointCons(c);
  validateMSMPoints(points, c);
  abool2(allowOversized, "allowOversized");
  validateMSMScalars(scalars, c.Fn, allowOversized ? c.Fn.ORDER ** _4n2 : void 0);
  if (points.length !== scalars.length)
    throw new Error("arrays of points and scalars must have equal length");
  const tables = points.map((p) => oddMultiples(p, 4));
  const digits = scalars.map((n) => wnafDigits(n, 4));
  return wnafWalk(c.ZERO, tables, digits);
}
function createField(order, field, isLE2) {
  if (field) {
    if (field.ORDER !== order)
      throw new Error("Field.ORDER must match order: Fp == p, Fn == n");
    validateField(field);
    return field;
  } else {
    return Field(order, { isLE: isLE2 });
  }
}
function createCurveFields(type, CURVE, curveOpts = {}, FpFnLE) {
  if (type !== "weierstrass" && type !== "edwards")
    throw new Error('expected curve type "weierstrass" or "edwards"');
  if (FpFnLE === void 0)
    FpFnLE = type === "edwards";
  if (!CURVE || typeof CURVE !== "object")
    throw new Error(`expected valid ${type} CURVE object`);
  validateObject(curveOpts);
  for (const p of ["p", "n", "h"]) {
    const val = CURVE[p];
    if (!(isPosBig(val) && val !== _0n3))
      throw new Error(`CURVE.${p} must be positive bigint`);
  }
  const Fp2 = createField(CURVE.p, curveOpts.Fp, FpFnLE);
  const Fn2 = createField(CURVE.n, curveOpts.Fn, FpFnLE);
  const _b = type === "weierstrass" ? "b" : "d";
  const params2 = ["Gx", "Gy", "a", _b];
  for (const p of params2) {
    if (!Fp2.isValid(CURVE[p]))
      throw new Error(`CURVE.${p} must be valid field element of CURVE.Fp`);
  }
  CURVE = Object.freeze(Object.assign({}, CURVE));
  return { CURVE, Fp: Fp2, Fn: Fn2 };
}
function createKeygen(randomSecretKey, getPublicKey) {
  return function keygen(seed) {
    const secretKey = randomSecretKey(seed);
    return { secretKey, publicKey: getPublicKey(secretKey) };
  };
}

// node_modules/@noble/curves/abstract/edwards.js
var _0n4 = /* @__PURE__ */ BigInt(0);
var _1n4 = /* @__PURE__ */ BigInt(1);
var _2n2 = /* @__PURE__ */ BigInt(2);
var _4n3 = /* @__PURE__ */ BigInt(4);
var _8n2 = /* @__PURE__ */ BigInt(8);
function isEdValidXY(Fp2, CURVE, x, y) {
  const x2 = Fp2.sqr(x);
  const y2 = Fp2.sqr(y);
  const left = Fp2.add(Fp2.mul(CURVE.a, x2), y2);
  const right = Fp2.add(Fp2.ONE, Fp2.mul(CURVE.d, Fp2.mul(x2, y2)));
  return Fp2.eql(left, right);
}
function edwards(params2, extraOpts = {}) {
  validateObject(extraOpts, {}, {}, "extraOpts");
  const opts2 = extraOpts;
  const validated = createCurveFields("edwards", params2, opts2, opts2.FpFnLE);
  const { Fp: Fp2, Fn: Fn2 } = validated;
  let CURVE = validated.CURVE;
  const { h: cofactor } = CURVE;
  if (FpLegendre(Fp2, CURVE.a) !== 1)
    throw new Error("edwards: CURVE.a must be a square in Fp for complete addition formulas");
  if (FpLegendre(Fp2, CURVE.d) !== -1)
    throw new Error("edwards: CURVE.d must be a non-square in Fp for complete addition formulas");
  validateObject(opts2, {}, { uvRatio: "function", randomBytes: "function" });
  const randomBytes5 = opts2.randomBytes === void 0 ? randomBytes2 : opts2.randomBytes;
  const MASK = _2n2 << BigInt(Fp2.BYTES * 8) - _1n4;
  function isOdd(n) {
    if (!Fp2.isOdd)
      throw new Error("Field does not have .isOdd()");
    return Fp2.isOdd(n);
  }
  const uvRatio3 = opts2.uvRatio === void 0 ? (u, v) => {
    try {
      return { isValid: true, value: Fp2.sqrt(Fp2.div(u, v)) };
    } catch (e) {
      return { isValid: false, value: _0n4 };
    }
  } : opts2.uvRatio;
  if (!isEdValidXY(Fp2, CURVE, CURVE.Gx, CURVE.Gy))
    throw new Error("bad curve params: generator point");
  const mulA = Fp2.eql(CURVE.a, Fp2.neg(Fp2.ONE)) ? (x) => Fp2.neg(x) : Fp2.eql(CURVE.a, Fp2.ONE) ? (x) => x : (x) => Fp2.mul(CURVE.a, x);
  function acoord(title, n, banZero = false) {
    const min = banZero ? _1n4 : _0n4;
    aInRange("coordinate " + title, n, min, MASK);
    return n;
  }
  function aedpoint(other) {
    if (!(other instanceof Point))
      throw new Error("EdwardsPoint expected");
  }
  class Point {
    static BASE = new Point(CURVE.Gx, CURVE.Gy, Fp2.ONE, Fp2.mul(CURVE.Gx, CURVE.Gy));
    static ZERO = new Point(Fp2.ZERO, Fp2.ONE, Fp2.ONE, Fp2.ZERO);
    static Fp = Fp2;
    static Fn = Fn2;
    X;
    Y;
    Z;
    T;
    constructor(X, Y, Z, T) {
      this.X = acoord("x", X);
      this.Y = acoord("y", Y);
      this.Z = acoord("z", Z, true);
      this.T = acoord("t", T);
      Object.freeze(this);
    }
    static CURVE() {
      return CURVE;
    }
    /**
     * Create one extended Edwards point from affine coordinates.
     * Does NOT validate that the point is on-curve or torsion-free.
     * Use `.assertValidity()` on adversarial inputs.
     */
    static fromAffine(p) {
      if (p instanceof Point)
        throw new Error("extended point not allowed");
      const { x, y } = p || {};
      acoord("x", x);
      acoord("y", y);
      return new Point(x, y, Fp2.ONE, Fp2.mul(x, y));
    }
    // Uses algo from RFC8032 5.1.3.
    static fromBytes(bytes, zip215 = false) {
      const len = Fp2.BYTES;
      const { a, d } = CURVE;
      bytes = copyBytes(abytes2(bytes, len, "point"));
      abool2(zip215, "zip215");
      const normed = copyBytes(bytes);
      const lastByte = bytes[len - 1];
      normed[len - 1] = lastByte & ~128;
      const y = bytesToNumberLE(normed);
      const max = zip215 ? MASK : Fp2.ORDER;
      aInRange("point.y", y, _0n4, max);
      const y2 = Fp2.sqr(y);
      const u = Fp2.sub(y2, Fp2.ONE);
      const v = Fp2.sub(Fp2.mulN(d, y2), a);
      let { isValid, value: x } = uvRatio3(u, v);
      if (!isValid)
        throw new Error("bad point: invalid y coordinate");
      const isXOdd = isOdd(x);
      const isLastByteOdd = (lastByte & 128) !== 0;
      if (!zip215 && Fp2.is0(x) && isLastByteOdd)
        throw new Error("bad point: x=0 and x_0=1");
      if (isLastByteOdd !== isXOdd)
        x = Fp2.neg(x);
      return Point.fromAffine({ x, y });
    }
    static fromHex(hex3, zip215 = false) {
      return Point.fromBytes(hexToBytes2(hex3), zip215);
    }
    get x() {
      return this.toAffine().x;
    }
    get y() {
      return this.toAffine().y;
    }
    precompute(windowSize = 6, isLazy = true) {
      wnaf.setWindowSize(this, windowSize);
      if (!isLazy)
        this.multiply(_2n2);
      return this;
    }
    // Useful in fromAffine() - not for fromBytes(), which always created valid points.
    assertValidity() {
      const p = this;
      const { a, d } = CURVE;
      if (p.is0())
        throw new Error("bad point: ZERO");
      const { X, Y, Z, T } = p;
      const X2 = Fp2.sqr(X);
      const Y2 = Fp2.sqr(Y);
      const Z2 = Fp2.sqr(Z);
      const Z4 = Fp2.sqr(Z2);
      const aX2 = Fp2.mul(X2, a);
      const left = Fp2.mul(Fp2.add(aX2, Y2), Z2);
      const right = Fp2.add(Z4, Fp2.mul(d, Fp2.mul(X2, Y2)));
      if (!Fp2.eql(left, right))
        throw new Error("bad point: equation left != right (1)");
      const XY = Fp2.mul(X, Y);
      const ZT = Fp2.mul(Z, T);
      if (!Fp2.eql(XY, ZT))
        throw new Error("bad point: equation left != right (2)");
    }
    // Compare one point to another.
    equals(other) {
      aedpoint(other);
      const { X: X1, Y: Y1, Z: Z1 } = this;
      const { X: X2, Y: Y2, Z: Z2 } = other;
      const X1Z2 = Fp2.mul(X1, Z2);
      const X2Z1 = Fp2.mul(X2, Z1);
      const Y1Z2 = Fp2.mul(Y1, Z2);
      const Y2Z1 = Fp2.mul(Y2, Z1);
      return Fp2.eql(X1Z2, X2Z1) && Fp2.eql(Y1Z2, Y2Z1);
    }
    is0() {
      return this.equals(Point.ZERO);
    }
    negate() {
      return new Point(Fp2.neg(this.X), this.Y, this.Z, Fp2.neg(this.T));
    }
    // Fast algo for doubling Extended Point.
    // https://hyperelliptic.org/EFD/g1p/auto-twisted-extended.html#doubling-dbl-2008-hwcd
    // Cost: 4M + 4S + 1*a + 6add + 1*2.
    double() {
      const { X: X1, Y: Y1, Z: Z1 } = this;
      const A = Fp2.sqr(X1);
      const B2 = Fp2.sqr(Y1);
      const C = Fp2.mul(Fp2.sqr(Z1), _2n2);
      const D = mulA(A);
      const x1y1 = Fp2.addN(X1, Y1);
      const E2 = Fp2.sub(Fp2.subN(Fp2.sqr(x1y1), A), B2);
      const G2 = Fp2.addN(D, B2);
      const F3 = Fp2.subN(G2, C);
      const H2 = Fp2.subN(D, B2);
      const X3 = Fp2.mul(E2, F3);
      const Y3 = Fp2.mul(G2, H2);
      const T3 = Fp2.mul(E2, H2);
      const Z3 = Fp2.mul(F3, G2);
      return new Point(X3, Y3, Z3, T3);
    }
    // Fast algo for adding 2 Extended Points.
    // https://hyperelliptic.org/EFD/g1p/auto-twisted-extended.html#addition-add-2008-hwcd
    // Cost: 9M + 1*a + 1*d + 7add.
    add(other) {
      aedpoint(other);
      const { d } = CURVE;
      const { X: X1, Y: Y1, Z: Z1, T: T1 } = this;
      const { X: X2, Y: Y2, Z: Z2, T: T2 } = other;
      const A = Fp2.mul(X1, X2);
      const B2 = Fp2.mul(Y1, Y2);
      const C = Fp2.mul(Fp2.mulN(T1, d), T2);
      const D = Fp2.mul(Z1, Z2);
      const E2 = Fp2.sub(Fp2.subN(Fp2.mulN(Fp2.addN(X1, Y1), Fp2.addN(X2, Y2)), A), B2);
      const F3 = Fp2.subN(D, C);
      const G2 = Fp2.addN(D, C);
      const H2 = Fp2.sub(B2, mulA(A));
      const X3 = Fp2.mul(E2, F3);
      const Y3 = Fp2.mul(G2, H2);
      const T3 = Fp2.mul(E2, H2);
      const Z3 = Fp2.mul(F3, G2);
      return new Point(X3, Y3, Z3, T3);
    }
    subtract(other) {
      aedpoint(other);
      return this.add(other.negate());
    }
    // Constant-time multiplication.
    multiply(scalar) {
      if (!Fn2.isValidNot0(scalar))
        throw new RangeError("invalid scalar: expected 1 <= sc < curve.n");
      const { p, f } = wnaf.mulSecret(this, scalar, cofactor, normalize);
      return normalize([p, f])[0];
    }
    // Non-constant-time multiplication. Uses double-and-add algorithm.
    // It's faster, but should only be used when you don't care about
    // an exposed private key e.g. sig verification.
    // Keeps the same subgroup-scalar contract: 0 is allowed for public-scalar callers, but
    // n and larger values are rejected instead of being reduced mod n to the identity point.
    multiplyUnsafe(scalar) {
      if (!Fn2.isValid(scalar))
        throw new RangeError("invalid scalar: expected 0 <= sc < curve.n");
      if (scalar === _0n4)
        return Point.ZERO;
      if (this.is0() || scalar === _1n4)
        return this;
      return wnaf.mulUnsafe(this, scalar, normalize);
    }
    // Checks if point is of small order.
    // If you add something to small order point, you will have "dirty"
    // point with torsion component.
    // Clears cofactor and checks if the result is 0.
    isSmallOrder() {
      return this.clearCofactor().is0();
    }
    // Multiplies point by curve order and checks if the result is 0.
    // Returns `false` is the point is dirty.
    isTorsionFree() {
      return wnaf.mulUnsafe(this, CURVE.n).is0();
    }
    // Converts Extended point to default (x, y) coordinates.
    // Can accept precomputed Z^-1 - for example, from invertBatch.
    toAffine(invertedZ) {
      const p = this;
      let iz = invertedZ;
      if (iz != null && typeof iz !== "bigint")
        throw new TypeError('"invertedZ" expected bigint, got type=' + typeof iz);
      const { X, Y, Z } = p;
      const is0 = p.is0();
      if (iz == null)
        iz = is0 ? Fp2.create(_8n2) : Fp2.inv(Z);
      const x = Fp2.mul(X, iz);
      const y = Fp2.mul(Y, iz);
      const zz = Fp2.mul(Z, iz);
      if (is0)
        return { x: Fp2.ZERO, y: Fp2.ONE };
      if (!Fp2.eql(zz, Fp2.ONE))
        throw new Error("invZ was invalid");
      return { x, y };
    }
    clearCofactor() {
      if (cofactor === _1n4)
        return this;
      if (cofactor === _2n2)
        return this.double();
      if (cofactor === _4n3)
        return this.double().double();
      if (cofactor === _8n2)
        return this.double().double().double();
      return this.multiplyUnsafe(cofactor);
    }
    toBytes() {
      const { x, y } = this.toAffine();
      const bytes = Fp2.toBytes(y);
      bytes[bytes.length - 1] |= isOdd(x) ? 128 : 0;
      return bytes;
    }
    toHex() {
      return bytesToHex2(this.toBytes());
    }
    toString() {
      return `<Point ${this.is0() ? "ZERO" : this.toHex()}>`;
    }
  }
  const normalize = (points) => normalizeZ(Point, points);
  const wnaf = new ScalarMultiplier(Point, randomBytes5);
  if (wnaf.bits >= 6)
    Point.BASE.precompute(6);
  Object.freeze(Point.prototype);
  Object.freeze(Point);
  return Point;
}

// node_modules/@noble/curves/abstract/fft.js
function checkU32(n, title = "n") {
  if (typeof n !== "number")
    throw new TypeError(`wrong u32 integer "${title}": expected number, got type=${typeof n}`);
  if (!Number.isSafeInteger(n) || n < 0 || n > 4294967295)
    throw new RangeError(`wrong u32 integer "${title}": expected 0..4294967295, got ${n}`);
  return n;
}
function isPowerOfTwo(x) {
  checkU32(x, "x");
  return (x & x - 1) === 0 && x !== 0;
}
function reverseBits(n, bits) {
  checkU32(n);
  if (typeof bits !== "number")
    throw new TypeError('"bits" expected number, got type=' + typeof bits);
  if (!Number.isSafeInteger(bits) || bits < 0 || bits > 32)
    throw new Error(`expected integer 0 <= bits <= 32, got ${bits}`);
  let reversed = 0;
  for (let i = 0; i < bits; i++, n >>>= 1)
    reversed = reversed << 1 | n & 1;
  return reversed >>> 0;
}
function log2(n) {
  checkU32(n);
  return 31 - Math.clz32(n);
}
function bitReversalInplace(values) {
  if (!values || typeof values !== "object" || typeof values.length !== "number")
    throw new TypeError('"values" expected array-like, got type=' + typeof values);
  const n = values.length;
  if (!isPowerOfTwo(n))
    throw new Error("expected positive power-of-two length, got " + n);
  const bits = log2(n);
  for (let i = 0; i < n; i++) {
    const j = reverseBits(i, bits);
    if (i < j) {
      const tmp = values[i];
      values[i] = values[j];
      values[j] = tmp;
    }
  }
  return values;
}
var FFTCore = (F3, coreOpts) => {
  validateObject(coreOpts, { N: "number", roots: "object", dit: "boolean" }, { invertButterflies: "boolean", skipStages: "number", brp: "boolean" }, "coreOpts");
  const { N: N2, roots, dit, invertButterflies = false, skipStages = 0, brp = true } = coreOpts;
  checkU32(N2, "coreOpts.N");
  const bits = log2(N2);
  if (!isPowerOfTwo(N2))
    throw new Error("FFT: Polynomial size should be power of two");
  checkU32(skipStages, "coreOpts.skipStages");
  const maxSkipStages = bits === 0 ? 0 : bits - 1;
  if (skipStages > maxSkipStages)
    throw new Error(`FFT: wrong skipStages: expected 0 <= skipStages <= ${maxSkipStages}`);
  if (roots.length !== N2)
    throw new Error(`FFT: wrong roots length: expected ${N2}, got ${roots.length}`);
  const isDit = dit !== invertButterflies;
  return (values) => {
    if (values.length !== N2)
      throw new Error("FFT: wrong Polynomial length");
    if (dit && brp)
      bitReversalInplace(values);
    for (let i = 0, g = 1; i < bits - skipStages; i++) {
      const s = dit ? i + 1 + skipStages : bits - i;
      const m = 1 << s;
      const m2 = m >> 1;
      const stride = N2 >> s;
      for (let k = 0; k < N2; k += m) {
        for (let j = 0, grp = g++; j < m2; j++) {
          const rootPos = invertButterflies ? dit ? N2 - grp : grp : j * stride;
          const i0 = k + j;
          const i1 = k + j + m2;
          const omega = roots[rootPos];
          const b = values[i1];
          const a = values[i0];
          if (isDit) {
            const t = F3.mul(b, omega);
            values[i0] = F3.add(a, t);
            values[i1] = F3.sub(a, t);
          } else if (invertButterflies) {
            values[i0] = F3.add(b, a);
            values[i1] = F3.mul(F3.sub(b, a), omega);
          } else {
            values[i0] = F3.add(a, b);
            values[i1] = F3.mul(F3.sub(a, b), omega);
          }
        }
      }
    }
    if (!dit && brp)
      bitReversalInplace(values);
    return values;
  };
};

// node_modules/@noble/curves/abstract/montgomery.js
var _0n5 = /* @__PURE__ */ BigInt(0);
var _1n5 = /* @__PURE__ */ BigInt(1);
var _2n3 = /* @__PURE__ */ BigInt(2);
function cmask(P3, swap) {
  return P3 + swap - (swap >> _1n5 << _1n5);
}
function cswap(P3) {
  const offset = BigInt(6) * P3;
  return (mask2, x_2, x_3) => {
    const sum = x_2 + x_3;
    const d = offset + x_3 - x_2;
    const a = (d * mask2 + x_2) % P3;
    return { x_2: a, x_3: sum - a };
  };
}
function validateOpts(curve) {
  validateObject(curve, {
    P: "bigint",
    type: "string",
    adjustScalarBytes: "function",
    powPminus2: "function"
  }, {
    randomBytes: "function",
    scalarMultBase: "function"
  });
  return Object.freeze({ ...curve });
}
function montgomery(curveDef) {
  const CURVE = validateOpts(curveDef);
  const { P: P3, type, adjustScalarBytes: adjustScalarBytes3, powPminus2, randomBytes: rand } = CURVE;
  const mulBaseHook = CURVE.scalarMultBase;
  const is25519 = type === "x25519";
  if (!is25519 && type !== "x448")
    throw new Error("invalid type");
  const randomBytes_ = rand === void 0 ? randomBytes2 : rand;
  const montgomeryBits = is25519 ? 255 : 448;
  const swap = cswap(P3);
  const fieldLen = is25519 ? 32 : 56;
  const Gu = is25519 ? BigInt(9) : BigInt(5);
  const a24 = is25519 ? BigInt(121665) : BigInt(39081);
  const minScalar = is25519 ? _2n3 ** BigInt(254) : _2n3 ** BigInt(447);
  const maxAdded = is25519 ? BigInt(8) * (_2n3 ** BigInt(251) - _1n5) : BigInt(4) * (_2n3 ** BigInt(445) - _1n5);
  const maxScalar = minScalar + maxAdded + _1n5;
  const modP = (n) => mod(n, P3);
  const GuBytes = encodeU(Gu);
  function encodeU(u) {
    return numberToBytesLE(modP(u), fieldLen);
  }
  function decodeU(u) {
    const _u = copyBytes(abytes2(u, fieldLen, "uCoordinate"));
    if (is25519)
      _u[31] &= 127;
    return modP(bytesToNumberLE(_u));
  }
  function decodeScalar(scalar) {
    return bytesToNumberLE(adjustScalarBytes3(copyBytes(abytes2(scalar, fieldLen, "scalar"))));
  }
  const lowOrderU = new Set(is25519 ? [
    _0n5,
    _1n5,
    P3 - _1n5,
    BigInt("325606250916557431795983626356110631294008115727848805560023387167927233504"),
    BigInt("39382357235489614581723060781553021112529911719440698176882885853963445705823")
  ] : [_0n5, _1n5, P3 - _1n5]);
  function scalarMult(scalar, u) {
    const pointU = decodeU(u);
    if (lowOrderU.has(pointU))
      throw new Error("invalid private or public key received");
    const pu = montgomeryLadder(pointU, decodeScalar(scalar));
    if (pu === _0n5)
      throw new Error("invalid private or public key received");
    return encodeU(pu);
  }
  function scalarMultBase(scalar) {
    if (mulBaseHook === void 0)
      return scalarMult(scalar, GuBytes);
    const k = decodeScalar(scalar);
    aInRange("scalar", k, minScalar, maxScalar);
    const pu = modP(mulBaseHook(k));
    if (pu === _0n5)
      throw new Error("invalid private or public key received");
    return encodeU(pu);
  }
  const getPublicKey = scalarMultBase;
  const getSharedSecret = scalarMult;
  function montgomeryLadder(u, scalar) {
    aInRange("u", u, _0n5, P3);
    aInRange("scalar", scalar, minScalar, maxScalar);
    const k = scalar;
    const x_1 = u;
    let x_2 = _1n5;
    let z_2 = _0n5;
    let x_3 = u;
    let z_3 = _1n5;
    const kx = k ^ k >> _1n5;
    for (let t = BigInt(montgomeryBits - 1); t >= _0n5; t--) {
      const mask3 = cmask(P3, kx >> t);
      ({ x_2, x_3 } = swap(mask3, x_2, x_3));
      ({ x_2: z_2, x_3: z_3 } = swap(mask3, z_2, z_3));
      const A = x_2 + z_2;
      const AA = modP(A * A);
      const B2 = x_2 - z_2;
      const BB = modP(B2 * B2);
      const E2 = AA - BB;
      const C = x_3 + z_3;
      const D = x_3 - z_3;
      const DA = modP(D * A);
      const CB = modP(C * B2);
      const dacb = DA + CB;
      const da_cb = DA - CB;
      x_3 = modP(dacb * dacb);
      z_3 = modP(x_1 * modP(da_cb * da_cb));
      x_2 = modP(AA * BB);
      z_2 = modP(E2 * (AA + modP(a24 * E2)));
    }
    const mask2 = cmask(P3, k);
    ({ x_2, x_3 } = swap(mask2, x_2, x_3));
    ({ x_2: z_2, x_3: z_3 } = swap(mask2, z_2, z_3));
    const z2 = powPminus2(z_2);
    return modP(x_2 * z2);
  }
  const lengths = {
    secretKey: fieldLen,
    publicKey: fieldLen,
    seed: fieldLen
  };
  const randomSecretKey = (seed) => {
    seed = seed === void 0 ? randomBytes_(fieldLen) : seed;
    abytes2(seed, lengths.seed, "seed");
    return seed;
  };
  const utils = { randomSecretKey };
  Object.freeze(lengths);
  Object.freeze(utils);
  return Object.freeze({
    keygen: createKeygen(randomSecretKey, getPublicKey),
    getSharedSecret,
    getPublicKey,
    scalarMult,
    scalarMultBase,
    utils,
    GuBytes: GuBytes.slice(),
    lengths
  });
}

// node_modules/@noble/curves/ed25519.js
var _0n6 = /* @__PURE__ */ BigInt(0);
var _1n6 = /* @__PURE__ */ BigInt(1);
var _2n4 = /* @__PURE__ */ BigInt(2);
var _3n2 = /* @__PURE__ */ BigInt(3);
var _5n2 = /* @__PURE__ */ BigInt(5);
var _8n3 = /* @__PURE__ */ BigInt(8);
var ed25519_CURVE_p = /* @__PURE__ */ BigInt("0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed");
var ed25519_CURVE = /* @__PURE__ */ (() => ({
  p: ed25519_CURVE_p,
  n: BigInt("0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed"),
  h: _8n3,
  a: BigInt("0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffec"),
  d: BigInt("0x52036cee2b6ffe738cc740797779e89800700a4d4141d8ab75eb4dca135978a3"),
  Gx: BigInt("0x216936d3cd6e53fec0a4e231fdd6dc5c692cc7609525a7b2c9562d608f25d51a"),
  Gy: BigInt("0x6666666666666666666666666666666666666666666666666666666666666658")
}))();
function ed25519_pow_2_252_3(x) {
  const _10n = BigInt(10), _20n = BigInt(20), _40n = BigInt(40), _80n = BigInt(80);
  const P3 = ed25519_CURVE_p;
  const x2 = x * x % P3;
  const b2 = x2 * x % P3;
  const b4 = pow2(b2, _2n4, P3) * b2 % P3;
  const b5 = pow2(b4, _1n6, P3) * x % P3;
  const b10 = pow2(b5, _5n2, P3) * b5 % P3;
  const b20 = pow2(b10, _10n, P3) * b10 % P3;
  const b40 = pow2(b20, _20n, P3) * b20 % P3;
  const b80 = pow2(b40, _40n, P3) * b40 % P3;
  const b160 = pow2(b80, _80n, P3) * b80 % P3;
  const b240 = pow2(b160, _80n, P3) * b80 % P3;
  const b250 = pow2(b240, _10n, P3) * b10 % P3;
  const pow_p_5_8 = pow2(b250, _2n4, P3) * x % P3;
  return { pow_p_5_8, b2 };
}
function adjustScalarBytes(bytes) {
  bytes[0] &= 248;
  bytes[31] &= 127;
  bytes[31] |= 64;
  return bytes;
}
var ED25519_SQRT_M1 = /* @__PURE__ */ BigInt("19681161376707505956807079304988542015446066515923890162744021073123829784752");
function uvRatio(u, v) {
  const P3 = ed25519_CURVE_p;
  const v3 = mod(v * v * v, P3);
  const v7 = mod(v3 * v3 * v, P3);
  const pow3 = ed25519_pow_2_252_3(u * v7).pow_p_5_8;
  let x = mod(u * v3 * pow3, P3);
  const vx2 = mod(v * x * x, P3);
  const root1 = x;
  const root2 = mod(x * ED25519_SQRT_M1, P3);
  const useRoot1 = vx2 === u;
  const useRoot2 = vx2 === mod(-u, P3);
  const noRoot = vx2 === mod(-u * ED25519_SQRT_M1, P3);
  if (useRoot1)
    x = root1;
  if (useRoot2 || noRoot)
    x = root2;
  if (isNegativeLE(x, P3))
    x = mod(-x, P3);
  return { isValid: useRoot1 || useRoot2, value: x };
}
var ed25519_Point = /* @__PURE__ */ edwards(ed25519_CURVE, { uvRatio });
var x25519 = /* @__PURE__ */ (() => {
  const P3 = ed25519_CURVE_p;
  const powPminus2 = (x) => {
    const { pow_p_5_8, b2 } = ed25519_pow_2_252_3(x);
    return mod(pow2(pow_p_5_8, _3n2, P3) * b2, P3);
  };
  return montgomery({
    P: P3,
    type: "x25519",
    powPminus2,
    adjustScalarBytes,
    // ~3x faster fixed-base: [k]B on the birationally-equivalent Edwards curve using cached
    // base tables, mapped back via u = (1+y)/(1-y) = (Z+Y)/(Z-Y) with one Fermat inversion.
    // Same construction as libsodium's crypto_scalarmult_curve25519_base.
    scalarMultBase: (k) => {
      const kn = mod(k, ed25519_Point.Fn.ORDER);
      if (kn === _0n6)
        return _0n6;
      const p = ed25519_Point.BASE.multiply(kn);
      return mod((p.Z + p.Y) * powPminus2(mod(p.Z - p.Y, P3)), P3);
    }
  });
})();

// node_modules/@noble/hashes/sha3.js
var _0n7 = BigInt(0);
var _1n7 = BigInt(1);
var _2n5 = BigInt(2);
var _7n2 = BigInt(7);
var _256n = BigInt(256);
var _0x71n = BigInt(113);
var SHA3_PI = [];
var SHA3_ROTL = [];
var _SHA3_IOTA = [];
for (let round = 0, R = _1n7, x = 1, y = 0; round < 24; round++) {
  [x, y] = [y, (2 * x + 3 * y) % 5];
  SHA3_PI.push(2 * (5 * y + x));
  SHA3_ROTL.push((round + 1) * (round + 2) / 2 % 64);
  let t = _0n7;
  for (let j = 0; j < 7; j++) {
    R = (R << _1n7 ^ (R >> _7n2) * _0x71n) % _256n;
    if (R & _2n5)
      t ^= _1n7 << (_1n7 << BigInt(j)) - _1n7;
  }
  _SHA3_IOTA.push(t);
}
var IOTAS = split(_SHA3_IOTA, true);
var SHA3_IOTA_H = IOTAS[0];
var SHA3_IOTA_L = IOTAS[1];
var rotlSH = (h, l, s) => h << s | l >>> 32 - s;
var rotlSL = (h, l, s) => l << s | h >>> 32 - s;
var rotlBH = (h, l, s) => l << s - 32 | h >>> 64 - s;
var rotlBL = (h, l, s) => h << s - 32 | l >>> 64 - s;
var rotlH = (h, l, s) => s > 32 ? rotlBH(h, l, s) : rotlSH(h, l, s);
var rotlL = (h, l, s) => s > 32 ? rotlBL(h, l, s) : rotlSL(h, l, s);
var B = new Uint32Array(5 * 2);
function keccakP(s, rounds = 24) {
  if (!(s instanceof Uint32Array))
    throw new TypeError('"s" expected Uint32Array(50), got type=' + typeof s);
  if (s.length !== 50)
    throw new RangeError('"s" expected Uint32Array(50), got length=' + s.length);
  anumber(rounds, "rounds");
  if (rounds < 1 || rounds > 24)
    throw new Error('"rounds" expected integer 1..24');
  for (let round = 24 - rounds; round < 24; round++) {
    for (let x = 0; x < 10; x++)
      B[x] = s[x] ^ s[x + 10] ^ s[x + 20] ^ s[x + 30] ^ s[x + 40];
    for (let x = 0; x < 10; x += 2) {
      const idx1 = (x + 8) % 10;
      const idx0 = (x + 2) % 10;
      const B0 = B[idx0];
      const B1 = B[idx0 + 1];
      const Th = rotlH(B0, B1, 1) ^ B[idx1];
      const Tl = rotlL(B0, B1, 1) ^ B[idx1 + 1];
      for (let y = 0; y < 50; y += 10) {
        s[x + y] ^= Th;
        s[x + y + 1] ^= Tl;
      }
    }
    let curH = s[2];
    let curL = s[3];
    for (let t = 0; t < 24; t++) {
      const shift = SHA3_ROTL[t];
      const Th = rotlH(curH, curL, shift);
      const Tl = rotlL(curH, curL, shift);
      const PI = SHA3_PI[t];
      curH = s[PI];
      curL = s[PI + 1];
      s[PI] = Th;
      s[PI + 1] = Tl;
    }
    for (let y = 0; y < 50; y += 10) {
      const b0 = s[y], b1 = s[y + 1], b2 = s[y + 2], b3 = s[y + 3];
      s[y] ^= ~s[y + 2] & s[y + 4];
      s[y + 1] ^= ~s[y + 3] & s[y + 5];
      s[y + 2] ^= ~s[y + 4] & s[y + 6];
      s[y + 3] ^= ~s[y + 5] & s[y + 7];
      s[y + 4] ^= ~s[y + 6] & s[y + 8];
      s[y + 5] ^= ~s[y + 7] & s[y + 9];
      s[y + 6] ^= ~s[y + 8] & b0;
      s[y + 7] ^= ~s[y + 9] & b1;
      s[y + 8] ^= ~b0 & b2;
      s[y + 9] ^= ~b1 & b3;
    }
    s[0] ^= SHA3_IOTA_H[round];
    s[1] ^= SHA3_IOTA_L[round];
  }
  clean(B);
}
var Keccak = class _Keccak {
  state;
  pos = 0;
  posOut = 0;
  finished = false;
  state32;
  destroyed = false;
  blockLen;
  suffix;
  outputLen;
  canXOF;
  enableXOF = false;
  rounds;
  // NOTE: we accept arguments in bytes instead of bits here.
  constructor(blockLen, suffix, outputLen, enableXOF = false, rounds = 24) {
    anumber(blockLen, "blockLen");
    anumber(suffix, "suffix");
    anumber(rounds, "rounds");
    abool(enableXOF, "enableXOF");
    this.blockLen = blockLen;
    this.suffix = suffix;
    this.outputLen = outputLen;
    this.enableXOF = enableXOF;
    this.canXOF = enableXOF;
    this.rounds = rounds;
    anumber(outputLen, "outputLen");
    if (!(0 < blockLen && blockLen < 200))
      throw new Error('"blockLen" must be 1..199');
    this.state = new Uint8Array(200);
    this.state32 = u322(this.state);
  }
  clone() {
    return this._cloneInto();
  }
  keccak() {
    swap32IfBE(this.state32);
    keccakP(this.state32, this.rounds);
    swap32IfBE(this.state32);
    this.posOut = 0;
    this.pos = 0;
  }
  update(data) {
    aexists(this);
    abytes(data);
    const { blockLen, state, state32 } = this;
    const len = data.length;
    const canUseU32 = blockLen % 4 === 0 && data.byteOffset % 4 === 0;
    const blockLen32 = blockLen / 4;
    const data32 = canUseU32 && len >= blockLen ? u322(data) : void 0;
    for (let pos = 0; pos < len; ) {
      if (data32 !== void 0 && this.pos === 0 && pos % 4 === 0 && len - pos >= blockLen) {
        for (let i = 0, o = pos / 4; i < blockLen32; i++)
          state32[i] ^= data32[o + i];
        pos += blockLen;
        this.pos = blockLen;
        this.keccak();
        continue;
      }
      const take = Math.min(blockLen - this.pos, len - pos);
      for (let i = 0; i < take; i++)
        state[this.pos++] ^= data[pos++];
      if (this.pos === blockLen)
        this.keccak();
    }
    return this;
  }
  finish() {
    if (this.finished)
      return;
    this.finished = true;
    const { state, suffix, pos, blockLen } = this;
    state[pos] ^= suffix;
    if ((suffix & 128) !== 0 && pos === blockLen - 1)
      this.keccak();
    state[blockLen - 1] ^= 128;
    this.keccak();
  }
  writeInto(out) {
    aexists(this, false);
    abytes(out);
    this.finish();
    const bufferOut = this.state;
    const { blockLen } = this;
    for (let pos = 0, len = out.length; pos < len; ) {
      if (this.posOut >= blockLen)
        this.keccak();
      const take = Math.min(blockLen - this.posOut, len - pos);
      out.set(bufferOut.subarray(this.posOut, this.posOut + take), pos);
      this.posOut += take;
      pos += take;
    }
    return out;
  }
  xofInto(out) {
    if (!this.enableXOF)
      throw new Error("XOF is not enabled");
    return this.writeInto(out);
  }
  xof(bytes) {
    anumber(bytes);
    return this.xofInto(new Uint8Array(bytes));
  }
  digestInto(out) {
    aoutput(out, this);
    if (this.finished)
      throw new Error("digest() was already called");
    this.writeInto(out.length === this.outputLen ? out : out.subarray(0, this.outputLen));
    this.destroy();
  }
  digest() {
    const out = new Uint8Array(this.outputLen);
    this.digestInto(out);
    return out;
  }
  destroy() {
    this.destroyed = true;
    clean(this.state);
  }
  _cloneInto(to) {
    const { blockLen, suffix, outputLen, rounds, enableXOF } = this;
    to ||= new _Keccak(blockLen, suffix, outputLen, enableXOF, rounds);
    to.blockLen = blockLen;
    to.state32.set(this.state32);
    to.pos = this.pos;
    to.posOut = this.posOut;
    to.finished = this.finished;
    to.rounds = rounds;
    to.suffix = suffix;
    to.outputLen = outputLen;
    to.enableXOF = enableXOF;
    to.canXOF = this.canXOF;
    to.destroyed = this.destroyed;
    return to;
  }
};
var genKeccak = (suffix, blockLen, outputLen, info = {}) => createHasher(() => new Keccak(blockLen, suffix, outputLen), info);
var sha3_256 = /* @__PURE__ */ genKeccak(
  6,
  136,
  32,
  /* @__PURE__ */ oidNist(8)
);
var sha3_512 = /* @__PURE__ */ genKeccak(
  6,
  72,
  64,
  /* @__PURE__ */ oidNist(10)
);
var genShake = (suffix, blockLen, outputLen, info = {}) => createHasher((opts2 = {}) => {
  opts2 = checkOpts({}, opts2);
  return new Keccak(blockLen, suffix, opts2.dkLen === void 0 ? outputLen : opts2.dkLen, true);
}, info);
var shake128 = /* @__PURE__ */ genShake(31, 168, 16, /* @__PURE__ */ oidNist(11));
var shake256 = /* @__PURE__ */ genShake(31, 136, 32, /* @__PURE__ */ oidNist(12));

// node_modules/@noble/curves/ed448.js
var ed448_CURVE_p = /* @__PURE__ */ BigInt("0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
var ed448_CURVE = /* @__PURE__ */ (() => ({
  p: ed448_CURVE_p,
  n: BigInt("0x3fffffffffffffffffffffffffffffffffffffffffffffffffffffff7cca23e9c44edb49aed63690216cc2728dc58f552378c292ab5844f3"),
  h: BigInt(4),
  a: BigInt(1),
  d: BigInt("0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffffffffffffffffffffffffffffffffffffffffffffffff6756"),
  Gx: BigInt("0x4f1970c66bed0ded221d15a622bf36da9e146570470f1767ea6de324a3d3a46412ae1af72ab66511433b80e18b00938e2626a82bc70cc05e"),
  Gy: BigInt("0x693f46716eb6bc248876203756c9c7624bea73736ca3984087789c1e05a0c2d73ad3ff1ce67c39c4fdbd132c4ed7c8ad9808795bf230fa14")
}))();
var _0n8 = /* @__PURE__ */ BigInt(0);
var _1n8 = /* @__PURE__ */ BigInt(1);
var _2n6 = /* @__PURE__ */ BigInt(2);
var _3n3 = /* @__PURE__ */ BigInt(3);
var _11n = /* @__PURE__ */ BigInt(11);
var _22n = /* @__PURE__ */ BigInt(22);
var _44n = /* @__PURE__ */ BigInt(44);
var _88n = /* @__PURE__ */ BigInt(88);
var _223n = /* @__PURE__ */ BigInt(223);
function ed448_pow_Pminus3div4(x) {
  const P3 = ed448_CURVE_p;
  const b2 = x * x * x % P3;
  const b3 = b2 * b2 * x % P3;
  const b6 = pow2(b3, _3n3, P3) * b3 % P3;
  const b9 = pow2(b6, _3n3, P3) * b3 % P3;
  const b11 = pow2(b9, _2n6, P3) * b2 % P3;
  const b22 = pow2(b11, _11n, P3) * b11 % P3;
  const b44 = pow2(b22, _22n, P3) * b22 % P3;
  const b88 = pow2(b44, _44n, P3) * b44 % P3;
  const b176 = pow2(b88, _88n, P3) * b88 % P3;
  const b220 = pow2(b176, _44n, P3) * b44 % P3;
  const b222 = pow2(b220, _2n6, P3) * b2 % P3;
  const b223 = pow2(b222, _1n8, P3) * x % P3;
  return pow2(b223, _223n, P3) * b222 % P3;
}
function adjustScalarBytes2(bytes) {
  bytes[0] &= 252;
  bytes[55] |= 128;
  bytes[56] = 0;
  return bytes;
}
function uvRatio2(u, v) {
  const P3 = ed448_CURVE_p;
  const u2v = mod(u * u * v, P3);
  const u3v = mod(u2v * u, P3);
  const u5v3 = mod(u3v * u2v * v, P3);
  const root = ed448_pow_Pminus3div4(u5v3);
  const x = mod(u3v * root, P3);
  const x2 = mod(x * x, P3);
  return { isValid: mod(x2 * v, P3) === u, value: x };
}
var Fp = /* @__PURE__ */ (() => Field(ed448_CURVE_p, { BITS: 456, isLE: true }))();
var Fn = /* @__PURE__ */ (() => Field(ed448_CURVE.n, { BITS: 456, isLE: true }))();
var ed448_Point = /* @__PURE__ */ edwards(ed448_CURVE, { Fp, Fn, uvRatio: uvRatio2 });
var x448 = /* @__PURE__ */ (() => {
  const P3 = ed448_CURVE_p;
  const powPminus2 = (x) => {
    const Pminus3div4 = ed448_pow_Pminus3div4(x);
    const Pminus3 = pow2(Pminus3div4, _2n6, P3);
    return mod(Pminus3 * x, P3);
  };
  return montgomery({
    P: P3,
    type: "x448",
    powPminus2,
    adjustScalarBytes: adjustScalarBytes2,
    // ~3x faster fixed-base: [k]B on Ed448-Goldilocks using cached base tables, mapped back
    // through the 4-isogeny to curve448: u = y²/x² = Y²/X² (the isogeny is a homomorphism and
    // sends the Ed448 base point to u=5, so no scalar correction factor is needed).
    scalarMultBase: (k) => {
      const kn = mod(k, ed448_Point.Fn.ORDER);
      if (kn === _0n8)
        return _0n8;
      const p = ed448_Point.BASE.multiply(kn);
      return mod(p.Y * p.Y * powPminus2(mod(p.X * p.X, P3)), P3);
    }
  });
})();

// node_modules/@noble/post-quantum/utils.js
var abytesDoc = abytes;
var randomBytes3 = randomBytes;
function aarray2(item, title, inner = () => {
}) {
  if (!Array.isArray(item))
    throw new TypeError(`"${title}" expected array, got type=${typeof item}`);
  for (let i = 0; i < item.length; i++)
    inner(item[i], `${title}[${i}]`);
  return item;
}
function equalBytes2(a, b) {
  a = abytes(a);
  b = abytes(b);
  if (a.length !== b.length)
    return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++)
    diff |= a[i] ^ b[i];
  return diff === 0;
}
function copyBytes2(bytes) {
  return new Uint8Array(abytes(bytes));
}
function splitCoder(label, ...lengths) {
  const getLength = (c) => typeof c === "number" ? c : c.bytesLen;
  const bytesLen = lengths.reduce((sum, a) => sum + getLength(a), 0);
  return {
    bytesLen,
    encode: (bufs) => {
      const res = new Uint8Array(bytesLen);
      for (let i = 0, pos = 0; i < lengths.length; i++) {
        const c = lengths[i];
        const l = getLength(c);
        const b = typeof c === "number" ? bufs[i] : c.encode(bufs[i]);
        abytes(b, l, label);
        res.set(b, pos);
        if (typeof c !== "number")
          b.fill(0);
        pos += l;
      }
      return res;
    },
    decode: (buf) => {
      abytes(buf, bytesLen, label);
      const res = [];
      for (const c of lengths) {
        const l = getLength(c);
        const b = buf.subarray(0, l);
        res.push(typeof c === "number" ? b : c.decode(b));
        buf = buf.subarray(l);
      }
      return res;
    }
  };
}
function vecCoder(c, vecLen) {
  const coder = c;
  const bytesLen = vecLen * coder.bytesLen;
  return {
    bytesLen,
    encode: (u) => {
      const uArr = aarray2(u, "u");
      if (uArr.length !== vecLen)
        throw new RangeError(`vecCoder.encode: wrong length=${uArr.length}. Expected: ${vecLen}`);
      const res = new Uint8Array(bytesLen);
      for (let i = 0, pos = 0; i < uArr.length; i++) {
        const b = coder.encode(uArr[i]);
        res.set(b, pos);
        b.fill(0);
        pos += b.length;
      }
      return res;
    },
    decode: (a) => {
      abytes(a, bytesLen);
      const r = [];
      for (let i = 0; i < a.length; i += coder.bytesLen)
        r.push(coder.decode(a.subarray(i, i + coder.bytesLen)));
      return r;
    }
  };
}
function cleanBytes(...list2) {
  for (const t of list2) {
    if (Array.isArray(t))
      for (const b of t)
        b.fill(0);
    else
      t.fill(0);
  }
}
function getMask(bits) {
  anumber(bits, "bits");
  if (bits > 32)
    throw new RangeError('"bits" expected <= 32, got ' + bits);
  return bits === 32 ? 4294967295 : ~(-1 << bits) >>> 0;
}

// node_modules/@noble/post-quantum/_crystals.js
var genCrystals = (opts2) => {
  const { newPoly, N: N2, Q: Q2, F: F3, ROOT_OF_UNITY: ROOT_OF_UNITY2, brvBits, isKyber } = opts2;
  const mod2 = (a, modulo = Q2) => {
    const result = a % modulo | 0;
    return (result >= 0 ? result | 0 : modulo + result | 0) | 0;
  };
  const smod = (a, modulo = Q2) => {
    const r = mod2(a, modulo) | 0;
    return (r > modulo >> 1 ? r - modulo | 0 : r) | 0;
  };
  function getZettas() {
    const out = newPoly(N2);
    for (let i = 0; i < N2; i++) {
      const b = reverseBits(i, brvBits);
      const p = BigInt(ROOT_OF_UNITY2) ** BigInt(b) % BigInt(Q2);
      out[i] = Number(p) | 0;
    }
    return out;
  }
  const nttZetas = getZettas();
  const inv = (_a) => {
    throw new Error("not implemented");
  };
  const field = isKyber ? {
    add: (a, b) => {
      const r = a + b | 0;
      return r >= Q2 ? r - Q2 | 0 : r;
    },
    sub: (a, b) => {
      const r = a - b | 0;
      return r < 0 ? r + Q2 | 0 : r;
    },
    mul: (a, b) => mod2((a | 0) * (b | 0)) | 0,
    inv
  } : {
    add: (a, b) => mod2((a | 0) + (b | 0)) | 0,
    sub: (a, b) => mod2((a | 0) - (b | 0)) | 0,
    mul: (a, b) => mod2((a | 0) * (b | 0)) | 0,
    inv
  };
  const nttOpts = {
    N: N2,
    roots: nttZetas,
    invertButterflies: true,
    skipStages: isKyber ? 1 : 0,
    brp: false
  };
  const dif = FFTCore(field, { dit: false, ...nttOpts });
  const dit = FFTCore(field, { dit: true, ...nttOpts });
  const NTT = {
    encode: (r) => {
      return dif(r);
    },
    decode: (r) => {
      dit(r);
      for (let i = 0; i < r.length; i++)
        r[i] = mod2(F3 * r[i]);
      return r;
    }
  };
  const bitsCoder = (d, c) => {
    for (let i = 0, bufLen = 0; i < N2; i++) {
      bufLen += d;
      if (bufLen > 32)
        getMask(bufLen);
      bufLen %= 8;
    }
    const mask2 = getMask(d);
    const bytesLen = d * (N2 / 8);
    return {
      bytesLen,
      encode: (poly_) => {
        const poly = poly_;
        const r = new Uint8Array(bytesLen);
        for (let i = 0, buf = 0, bufLen = 0, pos = 0; i < poly.length; i++) {
          buf |= (c.encode(poly[i]) & mask2) << bufLen;
          bufLen += d;
          for (; bufLen >= 8; bufLen -= 8, buf >>= 8)
            r[pos++] = buf & 255;
        }
        return r;
      },
      decode: (bytes) => {
        const r = newPoly(N2);
        for (let i = 0, buf = 0, bufLen = 0, pos = 0; i < bytes.length; i++) {
          buf |= bytes[i] << bufLen;
          bufLen += 8;
          for (; bufLen >= d; bufLen -= d, buf >>= d)
            r[pos++] = c.decode(buf & mask2);
        }
        return r;
      }
    };
  };
  return {
    mod: mod2,
    smod,
    nttZetas,
    NTT: {
      encode: (r) => NTT.encode(r),
      decode: (r) => NTT.decode(r)
    },
    bitsCoder
  };
};
var createXofShake = (shake) => (seed, blockLen) => {
  if (!blockLen)
    blockLen = shake.blockLen;
  const _seed = new Uint8Array(seed.length + 2);
  _seed.set(seed);
  const seedLen = seed.length;
  const buf = new Uint8Array(blockLen);
  let h = shake.create({});
  let calls = 0;
  let xofs = 0;
  return {
    stats: () => ({ calls, xofs }),
    get: (x, y) => {
      _seed[seedLen + 0] = x;
      _seed[seedLen + 1] = y;
      h.destroy();
      h = shake.create({}).update(_seed);
      calls++;
      return () => {
        xofs++;
        return h.xofInto(buf);
      };
    },
    clean: () => {
      h.destroy();
      cleanBytes(buf, _seed);
    }
  };
};
var XOF128 = /* @__PURE__ */ createXofShake(shake128);

// node_modules/@noble/post-quantum/ml-kem.js
var N = 256;
var Q = 3329;
var F = 3303;
var ROOT_OF_UNITY = 17;
var crystals = /* @__PURE__ */ genCrystals({
  N,
  Q,
  F,
  ROOT_OF_UNITY,
  newPoly: (n) => new Uint16Array(n),
  brvBits: 7,
  isKyber: true
});
var PARAMS = /* @__PURE__ */ (() => Object.freeze({
  512: Object.freeze({ N, Q, K: 2, ETA1: 3, ETA2: 2, du: 10, dv: 4, RBGstrength: 128 }),
  768: Object.freeze({ N, Q, K: 3, ETA1: 2, ETA2: 2, du: 10, dv: 4, RBGstrength: 192 }),
  1024: Object.freeze({ N, Q, K: 4, ETA1: 2, ETA2: 2, du: 11, dv: 5, RBGstrength: 256 })
}))();
var compress = (d) => {
  if (d >= 12)
    return { encode: (i) => i, decode: (i) => i >= Q ? i - Q : i };
  const a = 2 ** (d - 1);
  return {
    // This only matches standalone Compress_d after bitsCoder masks the result into Z_(2^d).
    encode: (i) => ((i << d) + Q / 2) / Q,
    // const decompress = (i: number) => round((Q / 2 ** d) * i);
    decode: (i) => i * Q + a >>> d
  };
};
var byteCoder = (d) => crystals.bitsCoder(d, d === 12 ? { encode: (i) => i, decode: (i) => i >= Q ? i - Q : i } : { encode: (i) => i, decode: (i) => i });
var polyCoder = (d) => d === 12 ? byteCoder(12) : crystals.bitsCoder(d, compress(d));
function polyAdd(a_, b_) {
  const a = a_;
  const b = b_;
  for (let i = 0; i < N; i++) {
    const r = a[i] + b[i];
    a[i] = r >= Q ? r - Q : r;
  }
}
function polySub(a_, b_) {
  const a = a_;
  const b = b_;
  for (let i = 0; i < N; i++) {
    const r = a[i] - b[i];
    a[i] = r < 0 ? r + Q : r;
  }
}
function BaseCaseMultiply(a0, a1, b0, b1, zeta) {
  const c0 = crystals.mod(crystals.mod(a1 * b1) * zeta + a0 * b0);
  const c1 = crystals.mod(a0 * b1 + a1 * b0);
  return { c0, c1 };
}
function MultiplyNTTs(f_, g_) {
  const f = f_;
  const g = g_;
  for (let i = 0; i < N / 2; i++) {
    let z = crystals.nttZetas[64 + (i >> 1)];
    if (i & 1)
      z = -z;
    const { c0, c1 } = BaseCaseMultiply(f[2 * i + 0], f[2 * i + 1], g[2 * i + 0], g[2 * i + 1], z);
    f[2 * i + 0] = c0;
    f[2 * i + 1] = c1;
  }
  return f;
}
function SampleNTT(xof_) {
  const xof = xof_;
  const r = new Uint16Array(N);
  for (let j = 0; j < N; ) {
    const b = xof();
    if (b.length % 3)
      throw new Error("SampleNTT: unaligned block");
    for (let i = 0; j < N && i + 3 <= b.length; i += 3) {
      const d1 = (b[i + 0] >> 0 | b[i + 1] << 8) & 4095;
      const d2 = (b[i + 1] >> 4 | b[i + 2] << 4) & 4095;
      if (d1 < Q)
        r[j++] = d1;
      if (j < N && d2 < Q)
        r[j++] = d2;
    }
  }
  return r;
}
var sampleCBDBytes = (buf, eta) => {
  const r = new Uint16Array(N);
  const b32 = u322(buf);
  swap32IfBE(b32);
  let len = 0;
  for (let i = 0, p = 0, bb = 0, t0 = 0; i < b32.length; i++) {
    let b = b32[i];
    for (let j = 0; j < 32; j++) {
      bb += b & 1;
      b >>= 1;
      len += 1;
      if (len === eta) {
        t0 = bb;
        bb = 0;
      } else if (len === 2 * eta) {
        r[p++] = crystals.mod(t0 - bb);
        bb = 0;
        len = 0;
      }
    }
  }
  swap32IfBE(b32);
  if (len)
    throw new Error(`sampleCBD: leftover bits: ${len}`);
  return r;
};
function sampleCBD(PRF_, seed, nonce, eta) {
  const PRF = PRF_;
  return sampleCBDBytes(PRF(eta * N / 4, seed, nonce), eta);
}
var genKPKE = (opts_) => {
  const opts2 = opts_;
  const { K, PRF, XOF, HASH512, ETA1, ETA2, du, dv } = opts2;
  const poly1 = polyCoder(1);
  const polyV = polyCoder(dv);
  const polyU = polyCoder(du);
  const publicCoder = splitCoder("publicKey", vecCoder(polyCoder(12), K), 32);
  const secretCoder = vecCoder(polyCoder(12), K);
  const cipherCoder = splitCoder("ciphertext", vecCoder(polyU, K), polyV);
  const seedCoder = splitCoder("seed", 32, 32);
  const encryptCore = (tHat, getA, msg, seed) => {
    const rHat = [];
    for (let i = 0; i < K; i++)
      rHat.push(crystals.NTT.encode(sampleCBD(PRF, seed, i, ETA1)));
    const tmp2 = new Uint16Array(N);
    const u = [];
    for (let i = 0; i < K; i++) {
      const e1 = sampleCBD(PRF, seed, K + i, ETA2);
      const tmp = new Uint16Array(N);
      for (let j = 0; j < K; j++) {
        const aij = getA(i, j);
        polyAdd(tmp, MultiplyNTTs(aij, rHat[j]));
      }
      polyAdd(e1, crystals.NTT.decode(tmp));
      u.push(e1);
      polyAdd(tmp2, MultiplyNTTs(tHat[i], rHat[i]));
      cleanBytes(tmp);
    }
    const e2 = sampleCBD(PRF, seed, 2 * K, ETA2);
    polyAdd(e2, crystals.NTT.decode(tmp2));
    const v = poly1.decode(msg);
    polyAdd(v, e2);
    cleanBytes(tHat, rHat, tmp2, e2);
    return cipherCoder.encode([u, v]);
  };
  return {
    secretCoder,
    lengths: {
      secretKey: secretCoder.bytesLen,
      publicKey: publicCoder.bytesLen,
      cipherText: cipherCoder.bytesLen
    },
    keygen: (seed) => {
      abytesDoc(seed, 32, "seed");
      const seedDst = new Uint8Array(33);
      seedDst.set(seed);
      seedDst[32] = K;
      const seedHash = HASH512(seedDst);
      const [rho, sigma] = seedCoder.decode(seedHash);
      const sHat = [];
      const tHat = [];
      for (let i = 0; i < K; i++)
        sHat.push(crystals.NTT.encode(sampleCBD(PRF, sigma, i, ETA1)));
      const x = XOF(rho);
      for (let i = 0; i < K; i++) {
        const e = crystals.NTT.encode(sampleCBD(PRF, sigma, K + i, ETA1));
        for (let j = 0; j < K; j++) {
          const aji = SampleNTT(x.get(j, i));
          polyAdd(e, MultiplyNTTs(aji, sHat[j]));
        }
        tHat.push(e);
      }
      x.clean();
      const res = {
        publicKey: publicCoder.encode([tHat, rho]),
        secretKey: secretCoder.encode(sHat)
      };
      cleanBytes(rho, sigma, sHat, tHat, seedDst, seedHash);
      return res;
    },
    encrypt: (publicKey, msg, seed) => {
      const [tHat, rho] = publicCoder.decode(publicKey);
      const x = XOF(rho);
      const res = encryptCore(tHat, (i, j) => SampleNTT(x.get(i, j)), msg, seed);
      x.clean();
      return res;
    },
    // Expands the full Â matrix (public data derived from rho) once, so repeated encryptions
    // against the same ek skip the K² SampleNTT XOF expansions. Cached polys are copied per
    // call because encryptCore mutates its inputs in place.
    prepare: (publicKey) => {
      const [tHat, rho] = publicCoder.decode(publicKey);
      const x = XOF(rho);
      const A = [];
      for (let i = 0; i < K; i++)
        for (let j = 0; j < K; j++)
          A.push(SampleNTT(x.get(i, j)));
      x.clean();
      return {
        encrypt: (msg, seed) => encryptCore(tHat.map((p) => p.slice()), (i, j) => A[i * K + j].slice(), msg, seed),
        clean: () => cleanBytes(tHat, A)
      };
    },
    decrypt: (cipherText, privateKey) => {
      const [u, v] = cipherCoder.decode(cipherText);
      const sk = secretCoder.decode(privateKey);
      const tmp = new Uint16Array(N);
      for (let i = 0; i < K; i++)
        polyAdd(tmp, MultiplyNTTs(sk[i], crystals.NTT.encode(u[i])));
      polySub(v, crystals.NTT.decode(tmp));
      const res = poly1.encode(v);
      cleanBytes(tmp, sk, u, v);
      return res;
    }
  };
};
function createKyber(opts2) {
  const rawOpts = opts2;
  const KPKE = genKPKE(rawOpts);
  const { HASH256, HASH512, KDF } = rawOpts;
  const { secretCoder: KPKESecretCoder, lengths } = KPKE;
  const secretCoder = splitCoder("secretKey", lengths.secretKey, lengths.publicKey, 32, 32);
  const msgLen = 32;
  const seedLen = 64;
  const validateModulus = (publicKey, fn) => {
    const eke = publicKey.subarray(0, 384 * rawOpts.K);
    const ek = KPKESecretCoder.encode(KPKESecretCoder.decode(copyBytes2(eke)));
    const ok = equalBytes2(ek, eke);
    cleanBytes(ek);
    if (!ok)
      throw new Error(`ML-KEM.${fn}: wrong publicKey modulus`);
  };
  const kemLengths = Object.freeze({
    ...lengths,
    seed: 64,
    msg: msgLen,
    msgRand: msgLen,
    secretKey: secretCoder.bytesLen
  });
  return Object.freeze({
    info: Object.freeze({ type: "ml-kem" }),
    lengths: kemLengths,
    keygen: (seed) => {
      const ownSeed = seed === void 0;
      const s = ownSeed ? randomBytes3(seedLen) : seed;
      let sk;
      let publicKeyHash;
      try {
        abytesDoc(s, seedLen, "seed");
        const keys = KPKE.keygen(s.subarray(0, 32));
        const publicKey = keys.publicKey;
        sk = keys.secretKey;
        publicKeyHash = HASH256(publicKey);
        const secretKey = secretCoder.encode([sk, publicKey, publicKeyHash, s.subarray(32)]);
        return {
          publicKey,
          secretKey
        };
      } finally {
        if (sk !== void 0)
          cleanBytes(sk);
        if (publicKeyHash !== void 0)
          cleanBytes(publicKeyHash);
        if (ownSeed)
          cleanBytes(s);
      }
    },
    getPublicKey: (secretKey) => {
      const [_sk, publicKey, _publicKeyHash, _z] = secretCoder.decode(secretKey);
      return Uint8Array.from(publicKey);
    },
    encapsulate: (publicKey, msg) => {
      const ownMsg = msg === void 0;
      const m = ownMsg ? randomBytes3(msgLen) : msg;
      let kr;
      try {
        abytesDoc(publicKey, lengths.publicKey, "publicKey");
        abytesDoc(m, msgLen, "message");
        validateModulus(publicKey, "encapsulate");
        kr = HASH512.create().update(m).update(HASH256(publicKey)).digest();
        const cipherText = KPKE.encrypt(publicKey, m, kr.subarray(32, 64));
        return {
          cipherText,
          sharedSecret: kr.subarray(0, 32)
        };
      } finally {
        if (kr !== void 0)
          cleanBytes(kr.subarray(32));
        if (ownMsg)
          cleanBytes(m);
      }
    },
    decapsulate: (cipherText, secretKey) => {
      abytesDoc(secretKey, secretCoder.bytesLen, "secretKey");
      abytesDoc(cipherText, lengths.cipherText, "cipherText");
      const k768 = secretCoder.bytesLen - 96;
      const start = k768 + 32;
      const test = HASH256(secretKey.subarray(k768 / 2, start));
      if (!equalBytes2(test, secretKey.subarray(start, start + 32)))
        throw new Error("invalid secretKey: hash check failed");
      const [sk, publicKey, publicKeyHash, z] = secretCoder.decode(secretKey);
      const msg = KPKE.decrypt(cipherText, sk);
      const kr = HASH512.create().update(msg).update(publicKeyHash).digest();
      const Khat = kr.subarray(0, 32);
      const cipherText2 = KPKE.encrypt(publicKey, msg, kr.subarray(32, 64));
      const isValid = equalBytes2(cipherText, cipherText2);
      const Kbar = KDF.create({ dkLen: 32 }).update(z).update(cipherText).digest();
      cleanBytes(msg, cipherText2, kr.subarray(32), !isValid ? Khat : Kbar);
      return isValid ? Khat : Kbar;
    },
    /**
     * Experimental prototype: pre-expand a public key so repeated encapsulate/decapsulate
     * against the same key skip re-validation, H(ek), t̂ decoding and the K² SampleNTT
     * XOF expansions of Â. Only public data is cached; see {@link KEMPrepared}.
     */
    prepare: (publicKey) => {
      abytesDoc(publicKey, lengths.publicKey, "publicKey");
      validateModulus(publicKey, "prepare");
      const ek = copyBytes2(publicKey);
      const publicKeyHash = HASH256(ek);
      const cached = KPKE.prepare(ek);
      return Object.freeze({
        publicKey: ek,
        encapsulate: (msg) => {
          const ownMsg = msg === void 0;
          const m = ownMsg ? randomBytes3(msgLen) : msg;
          let kr;
          try {
            abytesDoc(m, msgLen, "message");
            kr = HASH512.create().update(m).update(publicKeyHash).digest();
            const cipherText = cached.encrypt(m, kr.subarray(32, 64));
            return {
              cipherText,
              sharedSecret: kr.subarray(0, 32)
            };
          } finally {
            if (kr !== void 0)
              cleanBytes(kr.subarray(32));
            if (ownMsg)
              cleanBytes(m);
          }
        },
        decapsulate: (cipherText, secretKey) => {
          abytesDoc(secretKey, secretCoder.bytesLen, "secretKey");
          abytesDoc(cipherText, lengths.cipherText, "cipherText");
          const [sk, ekEmbedded, storedHash, z] = secretCoder.decode(secretKey);
          if (!equalBytes2(ekEmbedded, ek) || !equalBytes2(storedHash, publicKeyHash))
            throw new Error("ML-KEM.decapsulate: secretKey does not match prepared publicKey");
          const msg = KPKE.decrypt(cipherText, sk);
          const kr = HASH512.create().update(msg).update(publicKeyHash).digest();
          const Khat = kr.subarray(0, 32);
          const cipherText2 = cached.encrypt(msg, kr.subarray(32, 64));
          const isValid = equalBytes2(cipherText, cipherText2);
          const Kbar = KDF.create({ dkLen: 32 }).update(z).update(cipherText).digest();
          cleanBytes(msg, cipherText2, kr.subarray(32), !isValid ? Khat : Kbar);
          return isValid ? Khat : Kbar;
        },
        clean: cached.clean
      });
    }
  });
}
function shakePRF(dkLen, key, nonce) {
  return shake256.create({ dkLen }).update(key).update(new Uint8Array([nonce])).digest();
}
var opts = /* @__PURE__ */ (() => ({
  HASH256: sha3_256,
  HASH512: sha3_512,
  KDF: shake256,
  XOF: XOF128,
  PRF: shakePRF
}))();
var mk = (params2) => createKyber({
  ...opts,
  ...params2
});
var ml_kem512 = /* @__PURE__ */ (() => mk(PARAMS[512]))();
var ml_kem768 = /* @__PURE__ */ (() => mk(PARAMS[768]))();
var ml_kem1024 = /* @__PURE__ */ (() => mk(PARAMS[1024]))();

// src/crypto/mlkem.ts
var ML_KEM_512 = 35;
var ML_KEM_768 = 36;
var ML_KEM_1024 = 37;
var KEMS = {
  [ML_KEM_512]: { name: "ML-KEM-512", kem: ml_kem512, ekLength: 800, ctLength: 768 },
  [ML_KEM_768]: { name: "ML-KEM-768", kem: ml_kem768, ekLength: 1184, ctLength: 1088 },
  [ML_KEM_1024]: { name: "ML-KEM-1024", kem: ml_kem1024, ekLength: 1568, ctLength: 1568 }
};
function isMlKem(method) {
  return KEMS[method] !== void 0;
}
function params(method) {
  const p = KEMS[method];
  if (!p) throw new CryptoError(`key exchange method ${method} is not ML-KEM`);
  return p;
}
function mlKemInitiator(method, random) {
  const p = params(method);
  const { publicKey, secretKey } = p.kem.keygen(random.bytes(64));
  return {
    group: method,
    publicValue: publicKey,
    computeSharedSecret(peer) {
      if (peer.length !== p.ctLength)
        throw new CryptoError(
          `${p.name} ciphertext of ${peer.length} bytes, expected ${p.ctLength}`
        );
      try {
        return p.kem.decapsulate(peer, secretKey);
      } catch (e) {
        throw new CryptoError(`${p.name} decapsulation failed`, { cause: e });
      }
    }
  };
}
function mlKemResponder(method, ek, random) {
  const p = params(method);
  if (ek.length !== p.ekLength)
    throw new CryptoError(
      `${p.name} encapsulation key of ${ek.length} bytes, expected ${p.ekLength}`
    );
  try {
    const { cipherText, sharedSecret } = p.kem.encapsulate(ek, random.bytes(32));
    return { publicValue: cipherText, sharedSecret };
  } catch (e) {
    throw new CryptoError(`${p.name} encapsulation key is invalid (FIPS 203 §7.2 check)`, {
      cause: e
    });
  }
}

// src/crypto/ke.ts
var ECP = {
  19: { curve: "prime256v1", len: 32 },
  20: { curve: "secp384r1", len: 48 },
  21: { curve: "secp521r1", len: 66 }
};
var MODP = {
  // RFC 2409 §6.2, the second Oakley group (MODP-1024): only IKEv1's --ikev1-legacy offers it;
  // IKEv2's proposal parser has no token for it.
  2: "modp2",
  14: "modp14",
  15: "modp15",
  16: "modp16",
  17: "modp17",
  18: "modp18"
};
function isSupportedGroup(group) {
  return group === 31 || group === 32 || ECP[group] !== void 0 || MODP[group] !== void 0 || isMlKem(group);
}
function createKeyExchange(group, random) {
  if (isMlKem(group)) return mlKemInitiator(group, random);
  if (group === 31) return x25519Native(random) ?? montgomery2(group, x25519, 32, random);
  if (group === 32) return montgomery2(group, x448, 56, random);
  const ecp = ECP[group];
  if (ecp) return ecpGroup(group, ecp.curve, ecp.len, random);
  const modp = MODP[group];
  if (modp) return modpGroup(group, modp, random);
  throw new CryptoError(`key exchange group ${group} is not supported`);
}
function montgomery2(group, curve, len, random) {
  const priv = random.bytes(len);
  return {
    group,
    publicValue: curve.getPublicKey(priv),
    computeSharedSecret(peer) {
      if (peer.length !== len)
        throw new CryptoError(
          `group ${group} public value of ${peer.length} bytes, expected ${len}`
        );
      let s;
      try {
        s = curve.getSharedSecret(priv, peer);
      } catch (e) {
        throw new CryptoError(`invalid group ${group} public value`, { cause: e });
      }
      if (s.every((b) => b === 0))
        throw new CryptoError(`group ${group} shared secret is all zero (low-order point)`);
      return s;
    }
  };
}
var X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");
var X25519_SPKI = Buffer.from("302a300506032b656e032100", "hex");
function x25519Native(random) {
  const priv = random.bytes(32);
  let privateKey;
  let spki;
  try {
    privateKey = createPrivateKey({
      key: Buffer.concat([X25519_PKCS8, priv]),
      format: "der",
      type: "pkcs8"
    });
    spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  } catch {
    return void 0;
  }
  return {
    group: 31,
    publicValue: new Uint8Array(spki.subarray(spki.length - 32)),
    computeSharedSecret(peer) {
      if (peer.length !== 32)
        throw new CryptoError(`group 31 public value of ${peer.length} bytes, expected 32`);
      let s;
      try {
        const publicKey = createPublicKey({
          key: Buffer.concat([X25519_SPKI, peer]),
          format: "der",
          type: "spki"
        });
        s = diffieHellman({ privateKey, publicKey });
      } catch (e) {
        throw new CryptoError("invalid group 31 public value (a low-order point?)", { cause: e });
      }
      if (s.every((b) => b === 0))
        throw new CryptoError("group 31 shared secret is all zero (low-order point)");
      return new Uint8Array(s);
    }
  };
}
function ecpGroup(group, curve, len, random) {
  const ecdh2 = createECDH(curve);
  for (let i = 0; ; i++) {
    try {
      const d = random.bytes(len);
      if (group === 21) d[0] &= 1;
      ecdh2.setPrivateKey(d);
      break;
    } catch (e) {
      if (i > 16) throw new CryptoError("cannot generate an ECP private key", { cause: e });
    }
  }
  const pub = ecdh2.getPublicKey();
  return {
    group,
    // RFC 5903 §7: the KE data is x ‖ y, without the point-format octet.
    publicValue: new Uint8Array(pub.subarray(1)),
    computeSharedSecret(peer) {
      if (peer.length !== 2 * len)
        throw new CryptoError(
          `group ${group} public value of ${peer.length} bytes, expected ${2 * len}`
        );
      const point = new Uint8Array(1 + peer.length);
      point[0] = 4;
      point.set(peer, 1);
      try {
        return new Uint8Array(ecdh2.computeSecret(point));
      } catch (e) {
        throw new CryptoError(`group ${group} public value is not a point on the curve`, {
          cause: e
        });
      }
    }
  };
}
function modpGroup(group, name, random) {
  const prime = getDiffieHellman(name).getPrime();
  const len = prime.length;
  const dh = createDiffieHellman(prime, Uint8Array.of(2));
  dh.setPrivateKey(Buffer.from(random.bytes(64)));
  const pub = leftPad(dh.generateKeys(), len);
  const pMinus1 = Buffer.from(prime);
  pMinus1[len - 1] -= 1;
  return {
    group,
    publicValue: pub,
    computeSharedSecret(peer) {
      if (peer.length !== len)
        throw new CryptoError(
          `group ${group} public value of ${peer.length} bytes, expected ${len}`
        );
      const y = Buffer.from(peer);
      const one = Buffer.alloc(len);
      one[len - 1] = 1;
      if (Buffer.compare(y, one) <= 0 || Buffer.compare(y, pMinus1) >= 0) {
        throw new CryptoError(`group ${group} public value out of range`);
      }
      return leftPad(dh.computeSecret(y), len);
    }
  };
}
function leftPad(b, len) {
  if (b.length === len) return new Uint8Array(b);
  const out = new Uint8Array(len);
  out.set(b, len - b.length);
  return out;
}
function respondKeyExchange(group, peer, random) {
  if (isMlKem(group)) return mlKemResponder(group, peer, random);
  const mine = createKeyExchange(group, random);
  return { publicValue: mine.publicValue, sharedSecret: mine.computeSharedSecret(peer) };
}

// src/crypto/aead.ts
import { createCipheriv, createDecipheriv } from "node:crypto";
var AeadId = {
  AES_GCM_8: 18,
  AES_GCM_12: 19,
  AES_GCM_16: 20,
  CHACHA20_POLY1305: 28
};
var AEAD_SALT_LENGTH = 4;
var AEAD_IV_LENGTH = 8;
function isAead(encrId) {
  return encrId === AeadId.AES_GCM_8 || encrId === AeadId.AES_GCM_12 || encrId === AeadId.AES_GCM_16 || encrId === AeadId.CHACHA20_POLY1305;
}
function aeadIcvLength(encrId) {
  switch (encrId) {
    case AeadId.AES_GCM_8:
      return 8;
    case AeadId.AES_GCM_12:
      return 12;
    case AeadId.AES_GCM_16:
    case AeadId.CHACHA20_POLY1305:
      return 16;
    default:
      throw new RangeError(`"encrId" ${encrId} is not an AEAD transform`);
  }
}
function createAead(encrId, keymat) {
  const icvLength = aeadIcvLength(encrId);
  const keyLength = keymat.length - AEAD_SALT_LENGTH;
  let algorithm;
  if (encrId === AeadId.CHACHA20_POLY1305) {
    if (keyLength !== 32) {
      throw new RangeError(
        `"keymat" expected 36 bytes for ChaCha20-Poly1305, got ${keymat.length}`
      );
    }
    algorithm = "chacha20-poly1305";
  } else if (keyLength === 16) {
    algorithm = "aes-128-gcm";
  } else if (keyLength === 24) {
    algorithm = "aes-192-gcm";
  } else if (keyLength === 32) {
    algorithm = "aes-256-gcm";
  } else {
    throw new RangeError(`"keymat" expected 20, 28 or 36 bytes for AES-GCM, got ${keymat.length}`);
  }
  const key = Buffer.from(keymat.subarray(0, keyLength));
  const nonce = Buffer.alloc(AEAD_SALT_LENGTH + AEAD_IV_LENGTH);
  nonce.set(keymat.subarray(keyLength), 0);
  const chacha = algorithm === "chacha20-poly1305";
  function setIv(iv) {
    if (iv.length !== AEAD_IV_LENGTH) {
      throw new RangeError(`"iv" expected ${AEAD_IV_LENGTH} bytes, got ${iv.length}`);
    }
    nonce.set(iv, AEAD_SALT_LENGTH);
  }
  return {
    id: encrId,
    keyLength,
    ivLength: AEAD_IV_LENGTH,
    icvLength,
    seal(iv, aad, plaintext) {
      setIv(iv);
      const c = chacha ? createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: icvLength }) : createCipheriv(algorithm, key, nonce, { authTagLength: icvLength });
      c.setAAD(aad, { plaintextLength: plaintext.length });
      const out = new Uint8Array(plaintext.length + icvLength);
      const n1 = copyInto(out, 0, c.update(plaintext));
      const n2 = copyInto(out, n1, c.final());
      copyInto(out, n1 + n2, c.getAuthTag());
      return out;
    },
    open(iv, aad, sealed) {
      if (sealed.length < icvLength) return null;
      setIv(iv);
      const ctLen = sealed.length - icvLength;
      const d = chacha ? createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: icvLength }) : createDecipheriv(algorithm, key, nonce, { authTagLength: icvLength });
      d.setAuthTag(sealed.subarray(ctLen));
      d.setAAD(aad, { plaintextLength: ctLen });
      const out = new Uint8Array(ctLen);
      try {
        const n1 = copyInto(out, 0, d.update(sealed.subarray(0, ctLen)));
        copyInto(out, n1, d.final());
      } catch {
        return null;
      }
      return out;
    }
  };
}
function copyInto(dst, at, src) {
  dst.set(src, at);
  return src.length;
}

// src/ike/tasks/followup-ke.ts
var MAX_LINK = 256;
function runFollowupKe(c, what, methods, link, done) {
  const secrets = [];
  const step = (i, linkData) => {
    const method = methods[i];
    if (linkData.length === 0 || linkData.length > MAX_LINK) {
      done({
        error: `the gateway's ADDITIONAL_KEY_EXCHANGE link has ${linkData.length} bytes (RFC 9370 §3.2.2)`
      });
      return;
    }
    const ke = createKeyExchange(method, c.random);
    c.xchg.initiate({
      exchange: ExchangeType.IKE_FOLLOWUP_KE,
      what: `${what}: IKE_FOLLOWUP_KE ${i + 1} (${nameOf(DhGroup, method)})`,
      buildRequest: () => [
        { type: PayloadType.KE, critical: false, dhGroup: method, data: ke.publicValue },
        c.notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, linkData)
      ],
      processResponse: (_h, inner) => {
        const notifies = filterPayloads(inner, PayloadType.NOTIFY);
        const error = notifies.find((n) => n.notifyType < 16384);
        if (error) {
          done({ error: `IKE_FOLLOWUP_KE answered ${nameOf(NotifyType, error.notifyType)}` });
          return;
        }
        const kePayload = findPayload(inner, PayloadType.KE);
        if (kePayload?.dhGroup !== method) {
          done({ error: `IKE_FOLLOWUP_KE answer lacks a ${nameOf(DhGroup, method)} KE payload` });
          return;
        }
        try {
          secrets.push(ke.computeSharedSecret(kePayload.data));
        } catch (e) {
          done({ error: `invalid ${nameOf(DhGroup, method)} KE: ${e.message}` });
          return;
        }
        const next = notifies.find((n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE);
        if (i + 1 < methods.length) {
          if (!next) {
            done({ error: "IKE_FOLLOWUP_KE answer lacks the next ADDITIONAL_KEY_EXCHANGE link" });
            return;
          }
          step(i + 1, next.data.slice());
          return;
        }
        done({ secrets });
      }
    });
  };
  try {
    step(0, link);
  } catch (e) {
    done({ error: e instanceof VpnError ? e.message : e.message });
  }
}
var FollowupResponder = class {
  c;
  pending;
  constructor(c) {
    this.c = c;
  }
  /** Waits for IKE_FOLLOWUP_KE exchanges running `methods`; returns the first link to send. */
  expect(methods, done, abort) {
    this.pending?.abort();
    const link = this.c.random.bytes(16);
    this.pending = { link, methods, secrets: [], done, abort };
    return link;
  }
  processRequest(_ctx, inner) {
    const p = this.pending;
    const ke = findPayload(inner, PayloadType.KE);
    const link = filterPayloads(inner, PayloadType.NOTIFY).find(
      (n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE
    );
    if (!p || !link || !equalBytes(link.data, p.link)) {
      return { reply: [this.c.notify(NotifyType.STATE_NOT_FOUND)] };
    }
    const method = p.methods[p.secrets.length];
    if (ke?.dhGroup !== method) {
      this.pending = void 0;
      p.abort();
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    }
    let mine;
    try {
      mine = respondKeyExchange(method, ke.data, this.c.random);
    } catch {
      this.pending = void 0;
      p.abort();
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    }
    p.secrets.push(mine.sharedSecret);
    const reply = [
      { type: PayloadType.KE, critical: false, dhGroup: method, data: mine.publicValue }
    ];
    if (p.secrets.length < p.methods.length) {
      p.link = this.c.random.bytes(16);
      reply.push(this.c.notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, p.link));
      return { reply };
    }
    this.pending = void 0;
    return { reply, after: () => p.done(p.secrets) };
  }
};

// src/ike/sa/keymat.ts
import { timingSafeEqual as timingSafeEqual2 } from "node:crypto";

// src/crypto/prf.ts
import { createHmac } from "node:crypto";
var HMAC = {
  2: { hash: "sha1", len: 20 },
  // PRF_HMAC_SHA1
  5: { hash: "sha256", len: 32 },
  // PRF_HMAC_SHA2_256
  6: { hash: "sha384", len: 48 },
  // PRF_HMAC_SHA2_384
  7: { hash: "sha512", len: 64 }
  // PRF_HMAC_SHA2_512
};
function spec(prfId) {
  const s = HMAC[prfId];
  if (!s) throw new CryptoError(`PRF transform ${prfId} is not supported`);
  return s;
}
function prfOutputLength(prfId) {
  return spec(prfId).len;
}
function prf(prfId, key, data) {
  return new Uint8Array(createHmac(spec(prfId).hash, key).update(data).digest());
}
function prfPlus(prfId, key, seed, length) {
  const { hash, len } = spec(prfId);
  const n = Math.ceil(length / len);
  if (n > 255)
    throw new CryptoError(`prf+ cannot produce ${length} bytes (more than 255 iterations)`);
  const out = new Uint8Array(n * len);
  let prev = new Uint8Array(0);
  for (let i = 1; i <= n; i++) {
    const h = createHmac(hash, key);
    h.update(prev);
    h.update(seed);
    h.update(Uint8Array.of(i));
    prev = new Uint8Array(h.digest());
    out.set(prev, (i - 1) * len);
  }
  return out.subarray(0, length);
}

// src/crypto/kdf.ts
function split2(prfId, skeyseed, input) {
  const p = prfOutputLength(prfId);
  const { encrKeyLength: e, integKeyLength: a } = input;
  const km = prfPlus(
    prfId,
    skeyseed,
    concatBytes(input.ni, input.nr, input.spiI, input.spiR),
    3 * p + 2 * a + 2 * e
  );
  let o = 0;
  const take = (n) => {
    const s = km.slice(o, o + n);
    o += n;
    return s;
  };
  return {
    skeyseed,
    skD: take(p),
    skAi: take(a),
    skAr: take(a),
    skEi: take(e),
    skEr: take(e),
    skPi: take(p),
    skPr: take(p)
  };
}
function deriveIkeKeys(input) {
  const skeyseed = prf(input.prfId, concatBytes(input.ni, input.nr), input.sharedSecret);
  return split2(input.prfId, skeyseed, input);
}
function deriveRekeyedIkeKeys(input) {
  const skeyseed = prf(
    input.oldPrfId ?? input.prfId,
    input.oldSkD,
    concatBytes(input.sharedSecret, input.ni, input.nr, ...input.additional ?? [])
  );
  return split2(input.prfId, skeyseed, input);
}
function deriveChildKeys(input) {
  const seed = input.sharedSecret ? concatBytes(input.sharedSecret, input.ni, input.nr, ...input.additional ?? []) : concatBytes(input.ni, input.nr);
  const e = input.encrKeyLength;
  const a = input.integKeyLength;
  const km = prfPlus(input.prfId, input.skD, seed, 2 * (e + a));
  return {
    encrI: km.slice(0, e),
    integI: km.slice(e, e + a),
    encrR: km.slice(e + a, 2 * e + a),
    integR: km.slice(2 * e + a, 2 * (e + a))
  };
}

// src/crypto/sk.ts
import { createCipheriv as createCipheriv2, createDecipheriv as createDecipheriv2, createHmac as createHmac2, timingSafeEqual } from "node:crypto";
var INTEG = {
  2: { hash: "sha1", key: 20, icv: 12 },
  // AUTH_HMAC_SHA1_96
  12: { hash: "sha256", key: 32, icv: 16 },
  // AUTH_HMAC_SHA2_256_128 (RFC 4868)
  13: { hash: "sha384", key: 48, icv: 24 },
  // AUTH_HMAC_SHA2_384_192
  14: { hash: "sha512", key: 64, icv: 32 }
  // AUTH_HMAC_SHA2_512_256
};
function encrKeyLengthBytes(encrId, keyBits) {
  if (encrId === 28) return 32 + AEAD_SALT_LENGTH;
  return keyBits / 8 + (isAead(encrId) ? AEAD_SALT_LENGTH : 0);
}
function createSkCrypter(encrId, keyBits, integId) {
  if (isAead(encrId)) return aeadCrypter(encrId, keyBits);
  if (encrId === 12) return cbcCrypter(keyBits, integId);
  throw new CryptoError(`encryption transform ${encrId} is not supported for IKE`);
}
function aeadCrypter(encrId, keyBits) {
  const icv = aeadIcvLength(encrId);
  const encrKeyLength = encrKeyLengthBytes(encrId, keyBits);
  return {
    encrKeyLength,
    integKeyLength: 0,
    ivLength: AEAD_IV_LENGTH,
    icvLength: icv,
    blockSize: 1,
    // No padding is needed for GCM/ChaCha20: inner ‖ pad length (0).
    bodyLength: (n) => AEAD_IV_LENGTH + n + 1 + icv,
    seal(keys, aad, inner, random) {
      const aead = createAead(encrId, keys.encr);
      const iv = random.bytes(AEAD_IV_LENGTH);
      const pt = new Uint8Array(inner.length + 1);
      pt.set(inner);
      const ct = aead.seal(iv, aad, pt);
      const body = new Uint8Array(AEAD_IV_LENGTH + ct.length);
      body.set(iv);
      body.set(ct, AEAD_IV_LENGTH);
      return body;
    },
    open(keys, aad, body) {
      if (body.length < AEAD_IV_LENGTH + icv + 1) throw new CryptoError("SK payload too short");
      const aead = createAead(encrId, keys.encr);
      const pt = aead.open(body.subarray(0, AEAD_IV_LENGTH), aad, body.subarray(AEAD_IV_LENGTH));
      if (!pt) throw new CryptoError("SK payload ICV mismatch");
      return unpad(pt);
    }
  };
}
function unpad(pt) {
  const padLen = pt[pt.length - 1];
  if (padLen === void 0 || padLen + 1 > pt.length)
    throw new CryptoError("SK payload bad padding");
  return pt.subarray(0, pt.length - 1 - padLen);
}
function cbcCrypter(keyBits, integId) {
  if (keyBits !== 128 && keyBits !== 192 && keyBits !== 256)
    throw new CryptoError(`AES-CBC key of ${keyBits} bits`);
  const mac = INTEG[integId];
  if (!mac) throw new CryptoError(`integrity transform ${integId} is not supported`);
  const algorithm = `aes-${keyBits}-cbc`;
  const block = 16;
  const padded = (n) => Math.ceil((n + 1) / block) * block;
  const icvOf = (key, aad, ivCt) => new Uint8Array(
    createHmac2(mac.hash, key).update(aad).update(ivCt).digest().subarray(0, mac.icv)
  );
  return {
    encrKeyLength: keyBits / 8,
    integKeyLength: mac.key,
    ivLength: block,
    icvLength: mac.icv,
    blockSize: block,
    bodyLength: (n) => block + padded(n) + mac.icv,
    seal(keys, aad, inner, random) {
      if (!keys.integ) throw new CryptoError("AES-CBC needs an integrity key");
      const total = padded(inner.length);
      const pt = new Uint8Array(total);
      pt.set(inner);
      pt[total - 1] = total - inner.length - 1;
      const iv = random.bytes(block);
      const c = createCipheriv2(algorithm, keys.encr, iv);
      c.setAutoPadding(false);
      const ct = Buffer.concat([c.update(pt), c.final()]);
      const body = new Uint8Array(block + ct.length + mac.icv);
      body.set(iv);
      body.set(ct, block);
      body.set(icvOf(keys.integ, aad, body.subarray(0, block + ct.length)), block + ct.length);
      return body;
    },
    open(keys, aad, body) {
      if (!keys.integ) throw new CryptoError("AES-CBC needs an integrity key");
      const ctLen = body.length - block - mac.icv;
      if (ctLen < block || ctLen % block !== 0)
        throw new CryptoError("SK payload length is not a whole number of blocks");
      const expected = icvOf(keys.integ, aad, body.subarray(0, block + ctLen));
      const got = body.subarray(block + ctLen);
      if (!timingSafeEqual(expected, got)) throw new CryptoError("SK payload ICV mismatch");
      const d = createDecipheriv2(algorithm, keys.encr, body.subarray(0, block));
      d.setAutoPadding(false);
      const pt = new Uint8Array(
        Buffer.concat([d.update(body.subarray(block, block + ctLen)), d.final()])
      );
      return unpad(pt);
    }
  };
}

// src/ike/ppk.ts
var PPK_ID_FIXED = 2;
var MAX_PPK_ID_BYTES = 255;
var MIN_PPK_BYTES = 16;
var MAX_PPK_BYTES = 1024;
function encodePpkIdentity(id) {
  const out = new Uint8Array(1 + id.length);
  out[0] = PPK_ID_FIXED;
  out.set(id, 1);
  return out;
}
function mixPpk(prfId, ppk, keys) {
  return {
    skD: prfPlus(prfId, ppk, keys.skD, keys.skD.length).slice(),
    skPi: prfPlus(prfId, ppk, keys.skPi, keys.skPi.length).slice(),
    skPr: prfPlus(prfId, ppk, keys.skPr, keys.skPr.length).slice()
  };
}

// src/ike/sa/keymat.ts
var KEY_PAD = new TextEncoder().encode("Key Pad for IKEv2");
var IkeKeymat = class {
  prfId;
  crypter;
  weInitiated;
  skD;
  skAi;
  skAr;
  skEi;
  skEr;
  skPi;
  skPr;
  /** RFC 8784 §3: SK_d, SK_pi, SK_pr with the PPK mixed in, until IKE_AUTH says which set holds. */
  withPpk;
  /**
   * RFC 9242 §3.3.2: IntAuth (IntAuth_iN | IntAuth_rN | IKE_AUTH_MID) after IKE_INTERMEDIATE
   * exchanges, appended to both AUTH payloads' signed octets; empty without them.
   */
  intAuth = new Uint8Array(0);
  constructor(input) {
    const { proposal } = input;
    if (!proposal.prf) throw new CryptoError("IKE proposal without PRF");
    this.prfId = proposal.prf.id;
    this.crypter = createSkCrypter(
      proposal.encr.id,
      proposal.encr.keyBits ?? 256,
      proposal.integ?.id ?? 0
    );
    this.weInitiated = input.weInitiated;
    const params2 = {
      prfId: this.prfId,
      encrKeyLength: this.crypter.encrKeyLength,
      integKeyLength: this.crypter.integKeyLength,
      ni: input.ni,
      nr: input.nr,
      spiI: input.spiI,
      spiR: input.spiR,
      sharedSecret: input.sharedSecret
    };
    const k = input.rekeyOf ? deriveRekeyedIkeKeys({
      ...params2,
      oldSkD: input.rekeyOf.skD,
      oldPrfId: input.rekeyOf.prfId,
      ...input.additional ? { additional: input.additional } : {}
    }) : deriveIkeKeys(params2);
    wipe(k.skeyseed);
    this.skD = k.skD;
    this.skAi = k.skAi;
    this.skAr = k.skAr;
    this.skEi = k.skEi;
    this.skEr = k.skEr;
    this.skPi = k.skPi;
    this.skPr = k.skPr;
  }
  /** Seals inner payload bytes for a message we send (SK_ei/SK_ai if we are the original initiator). */
  sealOutbound(aad, inner, random) {
    return this.crypter.seal(
      this.weInitiated ? this.initiatorKeys() : this.responderKeys(),
      aad,
      inner,
      random
    );
  }
  /** Opens an SK body the peer sent. @throws CryptoError on ICV or padding failure. */
  openInbound(aad, body) {
    return this.crypter.open(
      this.weInitiated ? this.responderKeys() : this.initiatorKeys(),
      aad,
      body
    );
  }
  /** SK_d and the PRF, for deriving the keys of a rekeyed IKE SA (§2.18). */
  rekeySeed() {
    return { skD: this.skD, prfId: this.prfId };
  }
  initiatorKeys() {
    return this.skAi.length > 0 ? { encr: this.skEi, integ: this.skAi } : { encr: this.skEi };
  }
  responderKeys() {
    return this.skAr.length > 0 ? { encr: this.skEr, integ: this.skAr } : { encr: this.skEr };
  }
  /**
   * RFC 7296 §2.15: the octets an AUTH payload signs or MACs.
   * InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)
   * ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload)
   * RFC 8784 §3: with a PPK pending, SK_pi/SK_pr are the PPK-mixed ones unless `withPpk` is false
   * (NO_PPK_AUTH, and the gateway's AUTH when it did not use the PPK).
   * RFC 9242 §3.3.2: after IKE_INTERMEDIATE exchanges both end with IntAuth.
   */
  authOctets(side, realMessage, peerNonce, idBody, withPpk = this.withPpk !== void 0) {
    const keys = withPpk && this.withPpk ? this.withPpk : { skPi: this.skPi, skPr: this.skPr };
    const key = side === "initiator" ? keys.skPi : keys.skPr;
    return concatBytes(realMessage, peerNonce, prf(this.prfId, key, idBody), this.intAuth);
  }
  /**
   * RFC 9242 §3.3.2: IntAuth_[i|r]N = prf(SK_p[i|r]N, IntAuth_[i|r]N-1 | IntAuth_[i|r]N_A |
   * IntAuth_[i|r]N_P), with the SK_p of the keys that protect that IKE_INTERMEDIATE exchange.
   */
  intAuthStep(side, prev, data) {
    return prf(this.prfId, side === "initiator" ? this.skPi : this.skPr, concatBytes(prev, data));
  }
  /** RFC 8784 §3: derive the PPK-mixed SK_d, SK_pi and SK_pr (kept aside until `settlePpk`). */
  preparePpk(ppk) {
    this.settlePpk(false);
    this.withPpk = mixPpk(this.prfId, ppk, { skD: this.skD, skPi: this.skPi, skPr: this.skPr });
  }
  /** Is a PPK-mixed key set waiting for the gateway's answer? */
  get ppkPending() {
    return this.withPpk !== void 0;
  }
  /**
   * The gateway's IKE_AUTH answer decided (RFC 8784 §3): with its PPK_IDENTITY the PPK-mixed keys
   * replace SK_d, SK_pi and SK_pr; without it the plain keys stay (it used NO_PPK_AUTH).
   */
  settlePpk(used) {
    const p = this.withPpk;
    if (!p) return;
    this.withPpk = void 0;
    if (used) {
      wipe(this.skD, this.skPi, this.skPr);
      this.skD = p.skD;
      this.skPi = p.skPi;
      this.skPr = p.skPr;
    } else wipe(p.skD, p.skPi, p.skPr);
  }
  /** RFC 7296 §2.15: AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) */
  pskAuth(secret, octets) {
    return prf(this.prfId, prf(this.prfId, secret, KEY_PAD), octets);
  }
  /** Constant-time check of a peer's PSK (or MSK-based) AUTH value. */
  verifyPskAuth(secret, octets, received) {
    const expected = this.pskAuth(secret, octets);
    return expected.length === received.length && timingSafeEqual2(expected, received);
  }
  /**
   * RFC 7296 §2.16: after EAP, AUTH is computed like a PSK AUTH with the MSK as the shared secret,
   * or, for methods that derive no key, with SK_pi (our side) / SK_pr (the gateway's side).
   */
  eapAuth(msk, side, octets) {
    return this.pskAuth(msk ?? (side === "initiator" ? this.skPi : this.skPr), octets);
  }
  /** RFC 7296 §2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), initiator→responder first. */
  childKeys(ni, nr, encrKeyLength, integKeyLength, sharedSecret, additional) {
    return deriveChildKeys({
      prfId: this.prfId,
      skD: this.skD,
      ni,
      nr,
      encrKeyLength,
      integKeyLength,
      ...sharedSecret ? { sharedSecret } : {},
      // RFC 9370 §2.2.4: SK(1..n) of the IKE_FOLLOWUP_KE exchanges.
      ...additional ? { additional } : {}
    });
  }
  get prfLength() {
    return prfOutputLength(this.prfId);
  }
  /** Best-effort zeroing of all keys (JS may hold copies we cannot reach). */
  wipe() {
    this.settlePpk(false);
    wipe(this.skD, this.skAi, this.skAr, this.skEi, this.skEr, this.skPi, this.skPr);
  }
};

// src/ike/tasks/child-rekey.ts
var ChildRekey = class {
  c;
  constructor(c) {
    this.c = c;
  }
  /** CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } for the active CHILD_SA. */
  startChildRekey(group) {
    if (this.c.ike.state !== "established") return;
    const old = this.c.tasks.child.activeChild();
    if (!old || old.ours) return;
    const pfs = group ?? this.c.cfg.espProposals[0]?.dh.find((d) => d.id !== 0)?.id;
    old.ours = pfs === void 0 ? { ni: this.c.random.bytes(32) } : { ni: this.c.random.bytes(32), ke: createKeyExchange(pfs, this.c.random) };
    this.c.xchg.enqueue(() => {
      const ours = old.ours;
      if (!ours || old.replaced) {
        old.ours = void 0;
        return;
      }
      const inboundSpi = this.c.newChildSpi();
      const rekey = {
        ...this.c.notify(NotifyType.REKEY_SA),
        protocol: ProtocolId.ESP,
        spi: u32(old.inboundSpi)
      };
      const inner = [
        rekey,
        {
          type: PayloadType.SA,
          critical: false,
          proposals: buildProposals(this.c.cfg.espProposals, ProtocolId.ESP, u32(inboundSpi))
        },
        { type: PayloadType.NONCE, critical: false, data: ours.ni },
        ...ours.ke ? [
          {
            type: PayloadType.KE,
            critical: false,
            dhGroup: ours.ke.group,
            data: ours.ke.publicValue
          }
        ] : [],
        { type: PayloadType.TSi, critical: false, selectors: old.tsLocal },
        { type: PayloadType.TSr, critical: false, selectors: old.tsRemote }
      ];
      this.c.xchg.initiate({
        exchange: ExchangeType.CREATE_CHILD_SA,
        what: "a CHILD_SA rekey",
        buildRequest: () => inner,
        processResponse: (_h, p) => this.processOwnChildRekey(old, inboundSpi, p)
      });
    });
  }
  processOwnChildRekey(old, inboundSpi, inner) {
    const ours = old.ours;
    const retry = (why) => {
      this.c.log.info("ike", `CHILD_SA rekey not done (${why}); retrying in 10 s`);
      old.ours = void 0;
      if (!old.replaced)
        this.c.out.push({ kind: "setTimer", timer: "rekey-child", at: this.c.now + 1e4 });
    };
    if (!ours) return;
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    const invalidKe = notifies.find((n) => n.notifyType === NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe?.data.length === 2 && ours.ke) {
      const wanted = invalidKe.data[0] << 8 | invalidKe.data[1];
      if (wanted !== ours.ke.group && this.c.cfg.espProposals.some((p) => p.dh.some((d) => d.id === wanted))) {
        old.ours = void 0;
        this.startChildRekey(wanted);
        return;
      }
    }
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      retry(nameOf(NotifyType, error.notifyType));
      return;
    }
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    const tsi = findPayload(inner, PayloadType.TSi);
    const tsr = findPayload(inner, PayloadType.TSr);
    const chosen = sa ? selectResponderProposal(this.c.cfg.espProposals, sa.proposals, ProtocolId.ESP) : "no SA";
    if (!nonce || !tsi || !tsr || typeof chosen === "string" || chosen.spi.length !== 4 || !isAead(chosen.encr.id)) {
      retry(typeof chosen === "string" ? chosen : "malformed response");
      return;
    }
    const problem = this.c.tasks.child.checkResponderSelectors(old.tsLocal, old.tsRemote, tsi, tsr);
    if (problem) {
      retry(problem);
      return;
    }
    const kePayload = findPayload(inner, PayloadType.KE);
    let shared;
    if (ours.ke) {
      if (!kePayload || chosen.dh?.id !== ours.ke.group || kePayload.dhGroup !== ours.ke.group) {
        retry("no matching KE in the answer to our PFS rekey");
        return;
      }
      try {
        shared = ours.ke.computeSharedSecret(kePayload.data);
      } catch (e) {
        retry(`invalid KE: ${e.message}`);
        return;
      }
    }
    const addKe = chosen.addKe ?? [];
    if (addKe.length > 0) {
      const link = notifies.find((n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE);
      if (!shared || !link) {
        retry("additional key exchanges chosen without PFS or without ADDITIONAL_KEY_EXCHANGE");
        return;
      }
      const sk0 = shared;
      runFollowupKe(
        this.c,
        "a CHILD_SA rekey",
        addKe.map((a) => a.id),
        link.data.slice(),
        (o) => {
          if (!o.secrets) {
            wipe(sk0);
            retry(o.error ?? "IKE_FOLLOWUP_KE failed");
            return;
          }
          this.finishOwnChildRekey(old, inboundSpi, chosen, nonce.data, tsi, tsr, sk0, o.secrets);
        }
      );
      return;
    }
    this.finishOwnChildRekey(old, inboundSpi, chosen, nonce.data, tsi, tsr, shared, []);
  }
  /** Derives and installs the CHILD_SA our rekey created, then deletes the old one (§2.17, §1.3.3). */
  finishOwnChildRekey(old, inboundSpi, chosen, nr, tsi, tsr, shared, additional) {
    const ours = old.ours;
    if (!ours || this.c.ike.state !== "established") return;
    const keys = this.c.ike.sa.keymat.childKeys(
      ours.ni,
      nr,
      (chosen.encr.keyBits ?? 256) / 8 + 4,
      0,
      shared,
      additional
    );
    if (shared) wipe(shared);
    wipe(...additional);
    const info = {
      inbound: {
        spi: inboundSpi,
        encrId: chosen.encr.id,
        keymat: keys.encrR,
        replayWindow: this.c.cfg.replayWindow
      },
      outbound: {
        spi: new DataView(chosen.spi.buffer, chosen.spi.byteOffset, 4).getUint32(0),
        encrId: chosen.encr.id,
        keymat: keys.encrI
      },
      tsLocal: tsi.selectors,
      tsRemote: tsr.selectors,
      proposal: formatChosen(chosen)
    };
    ours.nr = nr.slice();
    ours.child = this.c.tasks.child.addChild(info);
    old.replaced = true;
    this.c.counters.childRekeys++;
    this.c.emit({ type: "rekeyed", what: "child", by: "us", proposal: info.proposal });
    if (!this.resolveRekeyCollision(old)) this.c.tasks.del.deleteChild(old);
  }
  /**
   * §2.8.1: when both ends rekeyed the same CHILD_SA, the new SA from the exchange holding the
   * lowest of the four nonces is redundant and is deleted by that exchange's initiator; the other
   * exchange's initiator deletes the old SA. Returns true when it handled a collision.
   */
  resolveRekeyCollision(old) {
    const ours = old.ours;
    const theirs = old.theirs;
    if (!ours?.child || !ours.nr || !theirs) return false;
    const min = (a, b) => Buffer.compare(a, b) <= 0 ? a : b;
    const weLose = Buffer.compare(min(ours.ni, ours.nr), min(theirs.ni, theirs.nr)) < 0;
    this.c.log.info(
      "ike",
      `simultaneous CHILD_SA rekey: ${weLose ? "ours" : "the gateway's"} is redundant`
    );
    if (weLose) this.c.tasks.del.deleteChild(ours.child);
    else this.c.tasks.del.deleteChild(old);
    return true;
  }
  /**
   * The gateway's CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr } rekeying one of our
   * CHILD_SAs (RFC 7296 §1.3.3); create-child-sa.ts routes it here.
   */
  respond(inner, keymat, sa, nonce, ke, rekey) {
    const old = rekey.spi.length === 4 ? new DataView(rekey.spi.buffer, rekey.spi.byteOffset, 4).getUint32(0) : -1;
    const child = this.c.ike.children.find((c) => c.outboundSpi === old || c.inboundSpi === old);
    if (!child || child.theirs) {
      const n = this.c.notify(NotifyType.CHILD_SA_NOT_FOUND);
      return { reply: [{ ...n, protocol: ProtocolId.ESP, spi: rekey.spi }] };
    }
    const tsi = findPayload(inner, PayloadType.TSi);
    const tsr = findPayload(inner, PayloadType.TSr);
    const theirSide = tsi ? capSelectors(narrowTo(child.tsRemote, tsi.selectors), "TSi") : void 0;
    const ourSide = tsr ? capSelectors(narrowTo(child.tsLocal, tsr.selectors), "TSr") : void 0;
    if (!tsi || !tsr || !theirSide?.selectors.length || !ourSide?.selectors.length) {
      return { reply: [this.c.notify(NotifyType.TS_UNACCEPTABLE)] };
    }
    tsi.selectors = theirSide.selectors;
    tsr.selectors = ourSide.selectors;
    const choice = chooseFromOffer(sa.proposals, this.c.cfg.espProposals, ProtocolId.ESP, {
      ...ke ? { dhGroup: ke.dhGroup } : {},
      acceptDh: isSupportedGroup
    });
    if (!choice || choice.chosen.spi.length !== 4 || !isAead(choice.chosen.encr.id)) {
      return { reply: [this.c.notify(NotifyType.NO_PROPOSAL_CHOSEN)] };
    }
    if (choice.chosen.addKe && !ke) {
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    }
    const nr = this.c.random.bytes(32);
    let shared;
    const reply = [];
    const inboundSpi = this.c.newChildSpi();
    reply.push({
      type: PayloadType.SA,
      critical: false,
      proposals: [
        {
          num: choice.chosen.num,
          protocol: ProtocolId.ESP,
          spi: u32(inboundSpi),
          transforms: choice.transforms
        }
      ]
    });
    reply.push({ type: PayloadType.NONCE, critical: false, data: nr });
    if (ke) {
      try {
        const mine = respondKeyExchange(ke.dhGroup, ke.data, this.c.random);
        shared = mine.sharedSecret;
        reply.push({
          type: PayloadType.KE,
          critical: false,
          dhGroup: ke.dhGroup,
          data: mine.publicValue
        });
      } catch {
        return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
      }
    }
    reply.push(tsi, tsr);
    const install = (additional) => {
      const encrLen = (choice.chosen.encr.keyBits ?? 256) / 8 + 4;
      const keys = keymat.childKeys(nonce.data, nr, encrLen, 0, shared, additional);
      if (shared) wipe(shared);
      wipe(...additional);
      const outboundSpi = new DataView(
        choice.chosen.spi.buffer,
        choice.chosen.spi.byteOffset,
        4
      ).getUint32(0);
      const info = {
        inbound: {
          spi: inboundSpi,
          encrId: choice.chosen.encr.id,
          keymat: keys.encrI,
          replayWindow: this.c.cfg.replayWindow
        },
        outbound: { spi: outboundSpi, encrId: choice.chosen.encr.id, keymat: keys.encrR },
        tsLocal: tsr.selectors,
        tsRemote: tsi.selectors,
        proposal: formatChosen(choice.chosen)
      };
      const created = this.c.tasks.child.addChild(info);
      child.replaced = true;
      child.theirs = { ni: nonce.data.slice(), nr, child: created };
      this.c.counters.childRekeys++;
      this.c.emit({ type: "rekeyed", what: "child", by: "peer", proposal: info.proposal });
      this.resolveRekeyCollision(child);
    };
    const addKe = choice.chosen.addKe ?? [];
    if (addKe.length > 0) {
      const link = this.c.tasks.followup.expect(
        addKe.map((a) => a.id),
        install,
        () => {
          if (shared) wipe(shared);
        }
      );
      reply.push(this.c.notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, link));
      return { reply };
    }
    return { reply, after: () => install([]) };
  }
};

// src/ike/tasks/create-child-sa.ts
var CreateChildSa = class {
  c;
  /** The inbound SPI of the CHILD_SA that IKE_AUTH creates. */
  childInboundSpi = 0;
  constructor(c) {
    this.c = c;
  }
  /** The first CHILD_SA's SAi2, TSi, TSr in IKE_AUTH (RFC 7296 §1.2, §2.9). */
  buildRequest() {
    this.childInboundSpi = this.c.newChildSpi();
    const sa = {
      type: PayloadType.SA,
      critical: false,
      proposals: buildProposals(this.c.cfg.espProposals, ProtocolId.ESP, u32(this.childInboundSpi))
    };
    const tsi = {
      type: PayloadType.TSi,
      critical: false,
      selectors: this.c.cfg.tsLocal
    };
    const tsr = {
      type: PayloadType.TSr,
      critical: false,
      selectors: this.c.cfg.tsRemote
    };
    return [sa, tsi, tsr];
  }
  /**
   * The first CHILD_SA from the last IKE_AUTH response (§1.2): checks the gateway's choice and
   * selectors, derives the keys (§2.17) and installs it. Fails the SA and returns undefined when
   * it is unusable (errors leave the IKE SA up per §1.2, but a VPN client without a tunnel is
   * useless, so we close it cleanly).
   */
  processResponse(inner, notifies) {
    const keymat = this.c.ike.sa.keymat;
    if (notifies.some((n) => n.notifyType === NotifyType.USE_TRANSPORT_MODE)) {
      this.c.fail(
        new VpnError("ERR_IKE_PROTOCOL", "gateway chose transport mode; tunnel mode was requested")
      );
      return void 0;
    }
    const sa = inner.find((p) => p.type === PayloadType.SA);
    const tsi = inner.find((p) => p.type === PayloadType.TSi);
    const tsr = inner.find((p) => p.type === PayloadType.TSr);
    if (!sa || !tsi || !tsr) {
      this.c.fail(
        new VpnError("ERR_IKE_PROTOCOL", "IKE_AUTH response lacks SA/TSi/TSr for the CHILD_SA")
      );
      return void 0;
    }
    const esp = selectResponderProposal(this.c.cfg.espProposals, sa.proposals, ProtocolId.ESP);
    if (typeof esp === "string") {
      this.c.fail(new VpnError("ERR_IKE_PROTOCOL", `invalid ESP proposal from gateway: ${esp}`));
      return void 0;
    }
    if (esp.spi.length !== 4) {
      this.c.fail(
        new VpnError("ERR_IKE_PROTOCOL", `gateway's ESP SPI has ${esp.spi.length} bytes`)
      );
      return void 0;
    }
    const problem = this.checkResponderSelectors(this.c.cfg.tsLocal, this.c.cfg.tsRemote, tsi, tsr);
    if (problem) {
      this.c.fail(new VpnError("ERR_IKE_TS_UNACCEPTABLE", problem));
      return void 0;
    }
    if (!isAead(esp.encr.id)) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          `ESP cipher ${esp.encr.id} is not supported by the data path`
        )
      );
      return void 0;
    }
    const encrLen = (esp.encr.keyBits ?? 256) / 8 + 4;
    const keys = keymat.childKeys(this.c.ike.ni, this.c.ike.nr, encrLen, 0);
    const outboundSpi = new DataView(esp.spi.buffer, esp.spi.byteOffset, 4).getUint32(0);
    const child = {
      inbound: {
        spi: this.childInboundSpi,
        encrId: esp.encr.id,
        keymat: keys.encrR,
        replayWindow: this.c.cfg.replayWindow
      },
      outbound: { spi: outboundSpi, encrId: esp.encr.id, keymat: keys.encrI },
      tsLocal: tsi.selectors,
      tsRemote: tsr.selectors,
      proposal: formatChosen(esp)
    };
    this.addChild(child);
    return child;
  }
  /**
   * CREATE_CHILD_SA started by the gateway (RFC 7296 §1.3): rekeying our CHILD_SA (§1.3.3,
   * N(REKEY_SA), child-rekey.ts) or the IKE SA (§1.3.2, SA with protocol IKE, ike-rekey.ts).
   * Other requests for additional CHILD_SAs are refused with NO_ADDITIONAL_SAS: this client
   * carries one tunnel.
   */
  processRequest(ctx, inner) {
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    const ke = findPayload(inner, PayloadType.KE);
    const keymat = ctx.keymat;
    if (!sa || !nonce || !keymat || ctx !== this.c.ike.sa)
      return { reply: [this.c.notify(NotifyType.NO_ADDITIONAL_SAS)] };
    if (sa.proposals.some((p) => p.protocol === ProtocolId.IKE))
      return this.c.tasks.ikeRekey.respondIkeRekey(ctx, keymat, sa.proposals, nonce.data, ke);
    const rekey = filterPayloads(inner, PayloadType.NOTIFY).find(
      (n) => n.notifyType === NotifyType.REKEY_SA
    );
    if (!rekey) {
      this.c.log.info("ike", "gateway offered an additional CHILD_SA; answering NO_ADDITIONAL_SAS");
      return { reply: [this.c.notify(NotifyType.NO_ADDITIONAL_SAS)] };
    }
    return this.c.tasks.childRekey.respond(inner, keymat, sa, nonce, ke, rekey);
  }
  /** Installs a CHILD_SA in the data path and arms its rekey timer. */
  addChild(info) {
    this.evictSurplusChildren();
    const c = {
      inboundSpi: info.inbound.spi,
      outboundSpi: info.outbound.spi,
      tsLocal: info.tsLocal,
      tsRemote: info.tsRemote,
      replaced: false
    };
    this.c.ike.children.push(c);
    this.c.out.push({ kind: "installChild", child: info });
    if (this.c.cfg.childRekeyMs > 0) {
      const jitter = new DataView(this.c.random.bytes(4).buffer).getUint32(0) / 4294967296 * 0.1;
      this.c.out.push({
        kind: "setTimer",
        timer: "rekey-child",
        at: this.c.now + this.c.cfg.childRekeyMs * (1 - jitter)
      });
    }
    return c;
  }
  activeChild() {
    for (let i = this.c.ike.children.length - 1; i >= 0; i--)
      if (!this.c.ike.children[i].replaced) return this.c.ike.children[i];
    return void 0;
  }
  /**
   * The responder's TSi/TSr must narrow what we proposed (RFC 7296 §2.9): a selector wider than
   * ours refuses the CHILD_SA, never installed wider. Accepted lists are capped at 32 per side.
   */
  checkResponderSelectors(local, remote, tsi, tsr) {
    const problem = checkNarrowed(local, tsi.selectors, "TSi") ?? checkNarrowed(remote, tsr.selectors, "TSr");
    if (problem) return problem;
    for (const [p, side] of [
      [tsi, "TSi"],
      [tsr, "TSr"]
    ]) {
      const capped = capSelectors(p.selectors, side);
      if (capped.warning) this.c.warn(`gateway's CHILD_SA: ${capped.warning}`);
      p.selectors = capped.selectors;
    }
    return null;
  }
  /**
   * Keeps at most LIMITS.childSas CHILD_SAs (a gateway rekeying without deleting must not grow
   * the data plane's SA table): makes room for one more by removing the oldest rekeyed ones
   * from the data path at once and sending our DELETE for each (§1.4.1).
   */
  evictSurplusChildren() {
    while (this.c.ike.children.length >= LIMITS.childSas) {
      const victim = this.c.ike.children.find((c) => c.replaced) ?? this.c.ike.children[0];
      this.c.ike.children.splice(this.c.ike.children.indexOf(victim), 1);
      this.c.out.push({
        kind: "removeChild",
        inboundSpi: victim.inboundSpi,
        outboundSpi: victim.outboundSpi
      });
      this.c.warn(
        `the gateway keeps rekeyed CHILD_SAs without deleting them: deleted the oldest (SPI ${victim.inboundSpi.toString(16).padStart(8, "0")}) to stay within ${LIMITS.childSas}`
      );
      if (victim.deleteSent) continue;
      victim.deleteSent = true;
      this.c.xchg.enqueue(
        () => this.c.xchg.initiate(this.c.tasks.del.childDeleteRequest(victim, () => void 0))
      );
    }
  }
};

// src/ike/tasks/delete.ts
var Delete = class {
  c;
  constructor(c) {
    this.c = c;
  }
  /** INFORMATIONAL { D(ESP, our inbound SPI) }; the SA goes once the gateway answers (§1.4.1). */
  deleteChild(c) {
    c.replaced = true;
    this.c.xchg.enqueue(() => {
      if (!this.c.ike.children.includes(c)) return;
      c.deleteSent = true;
      this.c.xchg.initiate(
        this.childDeleteRequest(c, () => {
          const i = this.c.ike.children.indexOf(c);
          if (i < 0) return;
          this.c.ike.children.splice(i, 1);
          this.c.out.push({
            kind: "removeChild",
            inboundSpi: c.inboundSpi,
            outboundSpi: c.outboundSpi
          });
        })
      );
    });
  }
  /** The request INFORMATIONAL { D(ESP, our inbound SPI of `c`) } (§1.4.1, §3.11). */
  childDeleteRequest(c, onAnswer) {
    return {
      exchange: ExchangeType.INFORMATIONAL,
      what: "a CHILD_SA delete",
      buildRequest: () => [
        {
          type: PayloadType.DELETE,
          critical: false,
          protocol: ProtocolId.ESP,
          spiSize: 4,
          spis: [u32(c.inboundSpi)]
        }
      ],
      processResponse: onAnswer
    };
  }
  /** The gateway's INFORMATIONAL with Delete payloads (§1.4.1), on the current or a retired IKE SA. */
  processRequest(ctx, inner) {
    const deletes = inner.filter((p) => p.type === PayloadType.DELETE);
    if (ctx !== this.c.ike.sa) {
      if (deletes.some((d) => d.protocol === ProtocolId.IKE)) {
        return {
          reply: [],
          after: () => {
            ctx.keymat?.wipe();
            if (this.c.ike.retired === ctx) this.c.ike.retired = void 0;
            if (this.c.ike.redundant === ctx) this.c.ike.redundant = void 0;
          }
        };
      }
      return { reply: [] };
    }
    if (deletes.some((d) => d.protocol === ProtocolId.IKE)) {
      const err = new VpnError(
        "ERR_IKE_DELETED",
        "the gateway closed the connection (deleted the IKE SA)"
      );
      return { reply: [], after: () => this.c.finishClose(err, true) };
    }
    const ourSpis = [];
    for (const d of deletes) {
      if (d.protocol !== ProtocolId.ESP) continue;
      for (const spiBytes of d.spis) {
        if (spiBytes.length !== 4) continue;
        const spi = new DataView(spiBytes.buffer, spiBytes.byteOffset, 4).getUint32(0);
        const idx = this.c.ike.children.findIndex((c2) => c2.outboundSpi === spi);
        if (idx < 0) continue;
        const c = this.c.ike.children.splice(idx, 1)[0];
        this.c.out.push({
          kind: "removeChild",
          inboundSpi: c.inboundSpi,
          outboundSpi: c.outboundSpi
        });
        if (!c.deleteSent) ourSpis.push(u32(c.inboundSpi));
      }
    }
    const reply = ourSpis.length > 0 ? [
      {
        type: PayloadType.DELETE,
        critical: false,
        protocol: ProtocolId.ESP,
        spiSize: 4,
        spis: ourSpis
      }
    ] : [];
    if (this.c.ike.children.length === 0) {
      const err = new VpnError("ERR_IKE_DELETED", "the gateway deleted the tunnel (CHILD_SA)");
      return { reply, after: () => this.startIkeDelete(err) };
    }
    return { reply };
  }
  close() {
    switch (this.c.ike.state) {
      case "created":
        this.c.finishClose(void 0, false);
        return;
      case "connecting":
        this.c.finishClose(void 0, false);
        return;
      case "established":
        this.startIkeDelete(void 0);
        return;
      case "deleting":
      case "closed":
        return;
    }
  }
  /** INFORMATIONAL { D(IKE) } (§1.4.1) with the next message ID; the SA closes on its answer. */
  startIkeDelete(reason) {
    if (this.c.ike.state !== "established") return;
    this.c.setState("deleting");
    const mid = this.c.ike.sa.outstanding ? this.c.ike.sa.outstanding.mid + 1 : this.c.ike.sa.nextMid;
    this.c.ike.sa.outstanding = void 0;
    this.c.ike.sa.nextMid = mid;
    const done = () => this.c.finishClose(reason, reason !== void 0);
    this.c.xchg.initiate(
      {
        exchange: ExchangeType.INFORMATIONAL,
        what: "DELETE",
        buildRequest: () => [this.c.deleteIkePayload()],
        processResponse: done
      },
      () => {
        done();
        return true;
      }
    );
    this.c.ike.sa.outstanding.tries = Math.max(0, this.c.cfg.retransmit.tries - 1);
  }
};

// src/ike/tasks/dpd.ts
var Dpd = class {
  exchange = ExchangeType.INFORMATIONAL;
  what = DPD_WHAT;
  c;
  constructor(c) {
    this.c = c;
  }
  scheduleDpd() {
    if (this.c.cfg.dpdDelayMs <= 0) return;
    this.c.out.push({
      kind: "setTimer",
      timer: "dpd",
      // Due one delay after the last sign of life (an answer to our check counts as one).
      at: Math.max(this.c.now, this.c.ike.lastAlive + this.c.cfg.dpdDelayMs)
    });
  }
  onDpdTimer() {
    if (this.c.ike.state !== "established") return;
    if (this.c.ike.sa.outstanding) {
      this.c.out.push({ kind: "setTimer", timer: "dpd", at: this.c.now + this.c.cfg.dpdDelayMs });
      return;
    }
    if (this.c.now - this.c.ike.lastAlive < this.c.cfg.dpdDelayMs) {
      this.scheduleDpd();
      return;
    }
    this.sendDpd();
  }
  /** An empty INFORMATIONAL request; any authenticated answer proves liveness (§1.4). */
  sendDpd() {
    this.c.counters.dpdSent++;
    this.c.xchg.initiate(this);
  }
  buildRequest() {
    return [];
  }
  processResponse() {
    this.scheduleDpd();
  }
  /** The gateway's INFORMATIONAL without Delete payloads: a liveness check (§1.4). */
  processRequest(_ctx, inner) {
    for (const n of filterPayloads(inner, PayloadType.NOTIFY)) {
      this.c.log.info("ike", `gateway notify ${nameOf(NotifyType, n.notifyType)}`);
    }
    this.c.emit({ type: "liveness-check" });
    return { reply: [] };
  }
};

// src/ike/tasks/ike-auth-eap.ts
var IkeAuthEap = class {
  c;
  /** An asynchronous EAP method is working on its Response. */
  eapPending = false;
  eapRounds = 0;
  constructor(c) {
    this.c = c;
  }
  /** A new IKE_AUTH starts: no EAP round yet. */
  reset() {
    this.eapRounds = 0;
  }
  onEapPacket(packet) {
    const peer = this.c.cfg.auth.kind === "eap" ? this.c.cfg.auth.peer : void 0;
    if (!peer) return;
    if (++this.eapRounds > 50) {
      this.c.fail(new VpnError("ERR_EAP_FAILED", "EAP did not finish within 50 rounds"));
      return;
    }
    const step = peer.handle(packet);
    switch (step.kind) {
      case "respond":
        this.sendEap(step.packet);
        return;
      case "pending":
        this.eapPending = true;
        return;
      case "success":
        this.sendEapAuth();
        return;
      case "failure":
        this.c.finishCloseWith(step.error);
        return;
    }
  }
  onAsyncEap(packet) {
    if (!this.eapPending || this.c.ike.state !== "connecting") return;
    this.eapPending = false;
    this.sendEap(packet);
  }
  sendEap(packet) {
    const inner = [{ type: PayloadType.EAP, critical: false, data: packet }];
    this.c.xchg.initiate({
      exchange: ExchangeType.IKE_AUTH,
      what: "IKE_AUTH (EAP)",
      buildRequest: () => inner,
      processResponse: (_h, p) => this.processEapResponse(p)
    });
  }
  processEapResponse(inner) {
    const eap = inner.find((p) => p.type === PayloadType.EAP);
    if (!eap || !("data" in eap)) {
      this.c.finishCloseWith(
        this.eapExchangeError(
          inner,
          `the gateway rejected our ${this.eapMethodName()} credentials`,
          "IKE_AUTH response during EAP lacks an EAP payload"
        )
      );
      return;
    }
    this.onEapPacket(eap.data);
  }
  /**
   * Why an IKE_AUTH response during or after EAP lacks what we expected: AUTHENTICATION_FAILED
   * (an EAP failure, `refused`), another error notify, or a protocol error (`missing`).
   */
  eapExchangeError(inner, refused, missing) {
    const error = inner.filter((p) => p.type === PayloadType.NOTIFY && !("unknown" in p)).find((n) => n.notifyType < 16384);
    if (error?.notifyType === NotifyType.AUTHENTICATION_FAILED)
      return new VpnError("ERR_EAP_FAILED", `${refused} (AUTHENTICATION_FAILED)`);
    return error ? this.c.errorFromNotify(error, "IKE_AUTH") : new VpnError("ERR_IKE_PROTOCOL", missing);
  }
  eapMethodName() {
    return this.c.cfg.auth.kind === "eap" ? this.c.cfg.auth.peer.methodName() : "EAP";
  }
  /** §2.16: after EAP-Success, AUTH = prf(prf(MSK or SK_pi, "Key Pad for IKEv2"), octets). */
  sendEapAuth() {
    if (this.c.cfg.auth.kind !== "eap") return;
    const keymat = this.c.ike.sa.keymat;
    const octets = keymat.authOctets(
      "initiator",
      this.c.ike.initRequest,
      this.c.ike.nr,
      this.c.tasks.auth.idiBody
    );
    const auth = {
      type: PayloadType.AUTH,
      critical: false,
      method: AuthMethod.SHARED_KEY_MIC,
      data: keymat.eapAuth(this.c.cfg.auth.peer.msk(), "initiator", octets)
    };
    this.c.xchg.initiate({
      exchange: ExchangeType.IKE_AUTH,
      what: "IKE_AUTH (after EAP)",
      buildRequest: () => [auth],
      processResponse: (_h, p) => this.processEapAuthResponse(p)
    });
  }
  processEapAuthResponse(inner) {
    if (this.c.cfg.auth.kind !== "eap") return;
    const peer = this.c.cfg.auth.peer;
    const keymat = this.c.ike.sa.keymat;
    const gw = this.c.tasks.auth.gw;
    const auth = inner.find((p) => p.type === PayloadType.AUTH);
    if (!auth) {
      this.c.finishCloseWith(
        this.eapExchangeError(
          inner,
          `the gateway refused the AUTH derived from ${peer.methodName()}`,
          "final IKE_AUTH response lacks AUTH"
        )
      );
      return;
    }
    const octets = keymat.authOctets(
      "responder",
      this.c.ike.initResponse,
      this.c.ike.ni,
      gw.idBody
    );
    const expected = keymat.eapAuth(peer.msk(), "responder", octets);
    if (auth.method !== AuthMethod.SHARED_KEY_MIC || expected.length !== auth.data.length || !equalBytes(expected, auth.data)) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          `the gateway's final AUTH does not match the ${peer.methodName()} key: it does not hold the EAP session`
        )
      );
      return;
    }
    if (!gw.authenticated && !peer.mutual()) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          `EAP-only authentication needs a mutual method; ${peer.methodName()} does not authenticate the gateway`
        )
      );
      return;
    }
    gw.authenticated = true;
    this.c.tasks.auth.completeAuth(inner);
  }
};

// src/ike/auth/signature.ts
import { constants, sign, verify } from "node:crypto";
var HASHES = {
  1: {
    id: 1,
    node: "sha1",
    label: "SHA-1",
    size: 20,
    oid: "1.3.14.3.2.26",
    rsaOid: "1.2.840.113549.1.1.5",
    ecdsaOid: "1.2.840.10045.4.1"
  },
  2: {
    id: 2,
    node: "sha256",
    label: "SHA-256",
    size: 32,
    oid: "2.16.840.1.101.3.4.2.1",
    rsaOid: "1.2.840.113549.1.1.11",
    ecdsaOid: "1.2.840.10045.4.3.2"
  },
  3: {
    id: 3,
    node: "sha384",
    label: "SHA-384",
    size: 48,
    oid: "2.16.840.1.101.3.4.2.2",
    rsaOid: "1.2.840.113549.1.1.12",
    ecdsaOid: "1.2.840.10045.4.3.3"
  },
  4: {
    id: 4,
    node: "sha512",
    label: "SHA-512",
    size: 64,
    oid: "2.16.840.1.101.3.4.2.3",
    rsaOid: "1.2.840.113549.1.1.13",
    ecdsaOid: "1.2.840.10045.4.3.4"
  }
};
var OID_RSASSA_PSS = "1.2.840.113549.1.1.10";
var OID_MGF1 = "1.2.840.113549.1.1.8";
var OID_ED25519 = "1.3.101.112";
var OID_ED448 = "1.3.101.113";
var PSS_DEFAULT_SALT = 20;
function supportedHashes() {
  return [
    HashAlgorithm.SHA2_256,
    HashAlgorithm.SHA2_384,
    HashAlgorithm.SHA2_512,
    HashAlgorithm.IDENTITY
  ];
}
function hashAlgorithmId(h) {
  return seq(oid(HASHES[h].oid), DER_NULL);
}
function derUint(n) {
  const bytes = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 255);
  if (bytes.length === 0 || (bytes[0] & 128) !== 0) bytes.unshift(0);
  return tlv(Tag.INTEGER, Uint8Array.from(bytes));
}
function encodeSignatureAlgorithm(alg) {
  switch (alg.kind) {
    case "rsa-pkcs1":
      return seq(oid(HASHES[alg.hash].rsaOid), DER_NULL);
    case "ecdsa":
      return seq(oid(HASHES[alg.hash].ecdsaOid));
    case "ed25519":
      return seq(oid(OID_ED25519));
    // RFC 8410 §3: parameters absent
    case "ed448":
      return seq(oid(OID_ED448));
    case "rsa-pss": {
      if (!Number.isInteger(alg.saltLength) || alg.saltLength < 0)
        throw new VpnError("ERR_ARG", `bad PSS salt length ${alg.saltLength}`);
      const params2 = [];
      if (alg.hash !== 1) params2.push(tlv(160, hashAlgorithmId(alg.hash)));
      if (alg.mgf1Hash !== 1)
        params2.push(tlv(161, seq(oid(OID_MGF1), hashAlgorithmId(alg.mgf1Hash))));
      if (alg.saltLength !== PSS_DEFAULT_SALT) params2.push(tlv(162, derUint(alg.saltLength)));
      return seq(oid(OID_RSASSA_PSS), seq(...params2));
    }
  }
}
function hashFromOid(o, what) {
  for (const h of Object.values(HASHES)) if (h.oid === o) return h.id;
  throw new VpnError("ERR_CRYPTO", `unsupported ${what} hash ${o}`);
}
function parseHashAlgorithm(d, what) {
  const parts = children(expectTag(d, Tag.SEQUENCE, what), what);
  const o = decodeOid(expectTag(parts[0], Tag.OID, what).value);
  const p = parts[1];
  if (parts.length > 2 || p && (p.tag !== Tag.NULL || p.value.length !== 0))
    throw new ParseError(what, 0, "hash parameters must be absent or NULL");
  return hashFromOid(o, what);
}
function explicit(d, what) {
  const inner = children(d, what);
  if (inner.length !== 1) throw new ParseError(what, 0, "expected one element");
  return inner[0];
}
function parsePssParams(p) {
  let hash = 1;
  let mgf1Hash = 1;
  let saltLength = PSS_DEFAULT_SALT;
  if (p === void 0) return { kind: "rsa-pss", hash, mgf1Hash, saltLength };
  const fields = children(expectTag(p, Tag.SEQUENCE, "RSASSA-PSS-params"), "RSASSA-PSS-params");
  let last = -1;
  for (const f of fields) {
    const n = f.tag - 160;
    if (n < 0 || n > 3 || n <= last)
      throw new ParseError("RSASSA-PSS-params", 0, `unexpected tag 0x${f.tag.toString(16)}`);
    last = n;
    const v = explicit(f, "RSASSA-PSS-params");
    if (n === 0) hash = parseHashAlgorithm(v, "PSS hashAlgorithm");
    else if (n === 1) {
      const mgf = children(expectTag(v, Tag.SEQUENCE, "maskGenAlgorithm"), "maskGenAlgorithm");
      const mo = decodeOid(expectTag(mgf[0], Tag.OID, "maskGenAlgorithm").value);
      if (mo !== OID_MGF1) throw new VpnError("ERR_CRYPTO", `unsupported mask generation ${mo}`);
      if (mgf.length !== 2) throw new ParseError("maskGenAlgorithm", 0, "MGF1 needs a hash");
      mgf1Hash = parseHashAlgorithm(mgf[1], "MGF1 hash");
    } else {
      const int = expectTag(v, Tag.INTEGER, n === 2 ? "saltLength" : "trailerField").value;
      if (int.length === 0 || int.length > 2 || (int[0] & 128) !== 0)
        throw new ParseError("RSASSA-PSS-params", 0, "bad INTEGER");
      const value = int.reduce((a, b) => a * 256 + b, 0);
      if (n === 2) saltLength = value;
      else if (value !== 1) throw new VpnError("ERR_CRYPTO", `PSS trailerField ${value} is not 1`);
    }
  }
  return { kind: "rsa-pss", hash, mgf1Hash, saltLength };
}
function decodeSignatureAlgorithm(der) {
  const parts = children(
    expectTag(parseDer(der, "AlgorithmIdentifier"), Tag.SEQUENCE, "AlgorithmIdentifier")
  );
  if (parts.length < 1 || parts.length > 2)
    throw new ParseError("AlgorithmIdentifier", 0, "expected algorithm and parameters");
  const o = decodeOid(expectTag(parts[0], Tag.OID, "algorithm").value);
  const params2 = parts[1];
  const isNull = params2?.tag === Tag.NULL && params2.value.length === 0;
  if (o === OID_RSASSA_PSS) return parsePssParams(params2);
  if (o === OID_ED25519 || o === OID_ED448) {
    if (params2) throw new ParseError("AlgorithmIdentifier", 0, "EdDSA parameters must be absent");
    return { kind: o === OID_ED25519 ? "ed25519" : "ed448" };
  }
  for (const h of Object.values(HASHES)) {
    if (o === h.rsaOid) {
      if (params2 && !isNull)
        throw new ParseError("AlgorithmIdentifier", 0, "RSA parameters must be NULL");
      return { kind: "rsa-pkcs1", hash: h.id };
    }
    if (o === h.ecdsaOid) {
      if (params2) throw new ParseError("AlgorithmIdentifier", 0, "ECDSA parameters must be absent");
      return { kind: "ecdsa", hash: h.id };
    }
  }
  throw new VpnError("ERR_CRYPTO", `unsupported signature algorithm ${o}`);
}
function describeSignatureAlgorithm(alg) {
  switch (alg.kind) {
    case "rsa-pkcs1":
      return `${HASHES[alg.hash].node}WithRSAEncryption`;
    case "rsa-pss":
      return `RSASSA-PSS with ${HASHES[alg.hash].label}, MGF1 ${HASHES[alg.mgf1Hash].label}, salt ${alg.saltLength}`;
    case "ecdsa":
      return `ecdsa-with-${HASHES[alg.hash].label.replace("-", "")}`;
    case "ed25519":
      return "Ed25519";
    case "ed448":
      return "Ed448";
  }
}
var NIST_CURVES = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521"
};
function curveOf(key) {
  const c = key.asymmetricKeyDetails?.namedCurve;
  return c === void 0 ? void 0 : NIST_CURVES[c] ?? c;
}
var LEGACY_ECDSA = {
  [AuthMethod.ECDSA_SHA256_P256]: { curve: "P-256", hash: 2, size: 32 },
  [AuthMethod.ECDSA_SHA384_P384]: { curve: "P-384", hash: 3, size: 48 },
  [AuthMethod.ECDSA_SHA512_P521]: { curve: "P-521", hash: 4, size: 66 }
};
function hashIdOfNodeName(name) {
  if (name === void 0) return void 0;
  const n = name.toLowerCase().replace("-", "");
  for (const h of Object.values(HASHES)) if (h.node === n) return h.id;
  return void 0;
}
function privateKeyError(message) {
  return new VpnError("ERR_CERT", message);
}
function signAuth(key, octets, opts2) {
  if (key.type !== "private") throw privateKeyError("signing the AUTH payload needs a private key");
  const peer = new Set(opts2.peerHashes);
  const best = [4, 3, 2].find((h) => peer.has(h));
  const use14 = opts2.preferDigitalSignature === true || opts2.preferDigitalSignature !== false && best !== void 0;
  const data = Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength);
  const kt = key.asymmetricKeyType;
  const digital = (alg, sig) => {
    const ai = encodeSignatureAlgorithm(alg);
    const out = new Uint8Array(1 + ai.length + sig.length);
    out[0] = ai.length;
    out.set(ai, 1);
    out.set(sig, 1 + ai.length);
    return { method: AuthMethod.DIGITAL_SIGNATURE, data: out };
  };
  switch (kt) {
    case "ed25519":
    case "ed448":
      return digital({ kind: kt }, new Uint8Array(sign(null, data, key)));
    case "rsa-pss": {
      const d = key.asymmetricKeyDetails;
      const restricted = hashIdOfNodeName(d?.hashAlgorithm);
      let hash;
      if (restricted !== void 0) {
        if (peer.size > 0 && !peer.has(restricted))
          throw privateKeyError(
            `the RSA-PSS key is restricted to ${HASHES[restricted].label}, which the peer did not announce`
          );
        hash = restricted;
      } else hash = best ?? 2;
      const mgf1Hash = hashIdOfNodeName(d?.mgf1HashAlgorithm) ?? hash;
      const saltLength = Math.max(HASHES[hash].size, d?.saltLength ?? 0);
      const sig = sign(HASHES[hash].node, data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength
      });
      return digital({ kind: "rsa-pss", hash, mgf1Hash, saltLength }, new Uint8Array(sig));
    }
    case "rsa": {
      if (!use14) {
        const sig2 = sign("sha1", data, { key, padding: constants.RSA_PKCS1_PADDING });
        return { method: AuthMethod.RSA_SIG, data: new Uint8Array(sig2) };
      }
      const hash = best ?? 2;
      if (opts2.rsaPss === true) {
        const saltLength = HASHES[hash].size;
        const sig2 = sign(HASHES[hash].node, data, {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength
        });
        return digital({ kind: "rsa-pss", hash, mgf1Hash: hash, saltLength }, new Uint8Array(sig2));
      }
      const sig = sign(HASHES[hash].node, data, { key, padding: constants.RSA_PKCS1_PADDING });
      return digital({ kind: "rsa-pkcs1", hash }, new Uint8Array(sig));
    }
    case "ec": {
      const curve = curveOf(key);
      const legacy = Object.entries(LEGACY_ECDSA).find(([, v]) => v.curve === curve);
      if (!use14 && legacy) {
        const [method, l] = legacy;
        const sig2 = sign(HASHES[l.hash].node, data, { key, dsaEncoding: "ieee-p1363" });
        return { method: Number(method), data: new Uint8Array(sig2) };
      }
      const hash = best ?? 2;
      const sig = sign(HASHES[hash].node, data, { key, dsaEncoding: "der" });
      return digital({ kind: "ecdsa", hash }, new Uint8Array(sig));
    }
    case "dsa":
    case "x25519":
    case "x448":
    case void 0:
      break;
  }
  throw privateKeyError(
    `cannot sign IKE AUTH with a ${String(kt)} key (RSA, RSA-PSS, ECDSA, Ed25519 or Ed448 needed)`
  );
}
function keyTypeName(key) {
  const t = key.asymmetricKeyType ?? "unknown";
  return t === "ec" ? `EC ${curveOf(key) ?? ""}`.trim() : t.toUpperCase();
}
function verifyAuth(publicKey, method, data, octets, opts2) {
  try {
    return verifyAuthInner(publicKey, method, data, octets, opts2);
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
function verifyAuthInner(key, method, data, octets, opts2) {
  const msg = Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength);
  const kt = key.asymmetricKeyType;
  const fail4 = (reason) => ({ ok: false, reason });
  const result = (ok, description2) => ok ? { ok: true, description: description2 } : fail4(`${description2} signature does not verify`);
  if (method === AuthMethod.RSA_SIG) {
    if (kt !== "rsa")
      return fail4(`RSA signature (method 1), but the certificate has a ${keyTypeName(key)} key`);
    if (data.length === 0) return fail4("empty signature");
    const ok = verify("sha1", msg, { key, padding: constants.RSA_PKCS1_PADDING }, data);
    return result(ok, "RSA PKCS#1 v1.5 with SHA-1 (RFC 7296 method 1)");
  }
  const legacy = LEGACY_ECDSA[method];
  if (legacy) {
    const description2 = `ECDSA with ${HASHES[legacy.hash].label} on ${legacy.curve} (RFC 4754 method ${method})`;
    if (kt !== "ec" || curveOf(key) !== legacy.curve)
      return fail4(`${description2}, but the certificate has a ${keyTypeName(key)} key`);
    if (data.length !== 2 * legacy.size)
      return fail4(`${description2}: signature of ${data.length} bytes, expected ${2 * legacy.size}`);
    const ok = verify(HASHES[legacy.hash].node, msg, { key, dsaEncoding: "ieee-p1363" }, data);
    return result(ok, description2);
  }
  if (method !== AuthMethod.DIGITAL_SIGNATURE)
    return fail4(`authentication method ${method} is not a signature method we accept`);
  const aiLen = data[0];
  if (aiLen === void 0 || aiLen === 0 || 1 + aiLen >= data.length)
    return fail4("Digital Signature AUTH data too short for its AlgorithmIdentifier and signature");
  let alg;
  try {
    alg = decodeSignatureAlgorithm(data.subarray(1, 1 + aiLen));
  } catch (e) {
    return fail4(`bad signature AlgorithmIdentifier: ${e instanceof Error ? e.message : String(e)}`);
  }
  const sig = data.subarray(1 + aiLen);
  const name = describeSignatureAlgorithm(alg);
  const description = `${name} (RFC ${alg.kind === "ed25519" || alg.kind === "ed448" ? "8420" : "7427"})`;
  const announced = new Set(opts2.ourHashes);
  switch (alg.kind) {
    case "ed25519":
    case "ed448": {
      if (!announced.has(HashAlgorithm.IDENTITY))
        return fail4(`${name} needs the Identity hash, which we did not announce`);
      if (kt !== alg.kind)
        return fail4(`${name} signature, but the certificate has a ${keyTypeName(key)} key`);
      return result(verify(null, msg, key, sig), description);
    }
    case "rsa-pkcs1": {
      if (!announced.has(alg.hash))
        return fail4(`${name} uses ${HASHES[alg.hash].label}, which we did not announce`);
      if (kt !== "rsa")
        return fail4(`${name} signature, but the certificate has a ${keyTypeName(key)} key`);
      const ok = verify(
        HASHES[alg.hash].node,
        msg,
        { key, padding: constants.RSA_PKCS1_PADDING },
        sig
      );
      return result(ok, description);
    }
    case "rsa-pss": {
      if (!announced.has(alg.hash))
        return fail4(`${name} uses ${HASHES[alg.hash].label}, which we did not announce`);
      if (alg.mgf1Hash !== alg.hash)
        return fail4(`${name}: MGF1 with a hash other than the message hash is not supported`);
      if (kt !== "rsa" && kt !== "rsa-pss")
        return fail4(`${name} signature, but the certificate has a ${keyTypeName(key)} key`);
      const ok = verify(
        HASHES[alg.hash].node,
        msg,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength },
        sig
      );
      return result(ok, description);
    }
    case "ecdsa": {
      if (!announced.has(alg.hash))
        return fail4(`${name} uses ${HASHES[alg.hash].label}, which we did not announce`);
      if (kt !== "ec")
        return fail4(`${name} signature, but the certificate has a ${keyTypeName(key)} key`);
      const ok = verify(HASHES[alg.hash].node, msg, { key, dsaEncoding: "der" }, sig);
      return result(ok, description);
    }
  }
}

// src/ike/tasks/ike-auth.ts
var IkeAuth = class _IkeAuth {
  exchange = ExchangeType.IKE_AUTH;
  what = "IKE_AUTH";
  c;
  /** IKE_AUTH in progress: our ID payload body, and the gateway's once it identified itself. */
  idiBody = new Uint8Array(0);
  gw;
  constructor(c) {
    this.c = c;
  }
  idPayload(type, id) {
    return { type, critical: false, idType: id.type, data: id.data };
  }
  static idBody(p) {
    const b = new Uint8Array(4 + p.data.length);
    b[0] = p.idType;
    b.set(p.data, 4);
    return b;
  }
  /** Starts IKE_AUTH once IKE_SA_INIT produced the keys. */
  sendAuth() {
    this.c.emit({ type: "stage", stage: "ike-auth" });
    this.c.xchg.initiate(this);
  }
  /** RFC 7296 §1.2: HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, [CP,] SAi2, TSi, TSr}. */
  buildRequest() {
    const keymat = this.c.ike.sa.keymat;
    const local = this.c.cfg.auth;
    const idi = this.idPayload(PayloadType.IDi, this.c.cfg.localId);
    this.idiBody = _IkeAuth.idBody(idi);
    this.gw = void 0;
    this.c.tasks.eap.reset();
    const inner = [idi];
    if (local.kind === "pubkey") {
      for (const der of local.certs) {
        const cert = {
          type: PayloadType.CERT,
          critical: false,
          encoding: CertEncoding.X509_SIG,
          data: der
        };
        inner.push(cert);
      }
    }
    const keyIds = this.c.cfg.gatewayAuth.certs?.certreqKeyIds ?? [];
    if (keyIds.length > 0) {
      const req3 = {
        type: PayloadType.CERTREQ,
        critical: false,
        encoding: CertEncoding.X509_SIG,
        data: concatBytes(...keyIds)
      };
      inner.push(req3);
    }
    inner.push(...this.c.tasks.reauth.initialContact());
    if (this.c.cfg.mobike !== false) inner.push(this.c.notify(NotifyType.MOBIKE_SUPPORTED));
    if (this.c.cfg.remoteId) inner.push(this.idPayload(PayloadType.IDr, this.c.cfg.remoteId));
    if (local.kind === "eap") {
      if (this.c.cfg.gatewayAuth.eapOnly)
        inner.push(this.c.notify(NotifyType.EAP_ONLY_AUTHENTICATION));
    } else {
      const ppk = this.c.cfg.ppk && this.c.ike.peerPpk ? this.c.cfg.ppk : void 0;
      if (ppk) keymat.preparePpk(ppk.key);
      const octetsFor = (withPpk) => keymat.authOctets(
        "initiator",
        this.c.ike.initRequest,
        this.c.ike.nr,
        this.idiBody,
        withPpk
      );
      const authData = (octets) => local.kind === "psk" ? { method: AuthMethod.SHARED_KEY_MIC, data: keymat.pskAuth(local.psk, octets) } : signAuth(local.key, octets, { peerHashes: this.c.ike.peerHashes });
      const a = authData(octetsFor(ppk !== void 0));
      const auth = {
        type: PayloadType.AUTH,
        critical: false,
        method: a.method,
        data: a.data
      };
      inner.push(auth);
      if (ppk) {
        inner.push(this.c.notify(NotifyType.PPK_IDENTITY, encodePpkIdentity(ppk.id)));
        if (!ppk.required)
          inner.push(this.c.notify(NotifyType.NO_PPK_AUTH, authData(octetsFor(false)).data));
      }
    }
    const child = this.c.tasks.child.buildRequest();
    inner.push(...this.c.tasks.config.buildRequest(), ...child);
    return inner;
  }
  /** The first IKE_AUTH response: the gateway's identity and proof, then EAP or the CHILD_SA. */
  processResponse(_header, inner) {
    const notifies = inner.filter((p) => p.type === PayloadType.NOTIFY);
    this.c.tasks.mobike.notePeerMobike(notifies);
    const auth = inner.find((p) => p.type === PayloadType.AUTH);
    const idr = inner.find((p) => p.type === PayloadType.IDr);
    const eap = inner.find((p) => p.type === PayloadType.EAP);
    const error = notifies.find((n) => n.notifyType < 16384);
    if (!idr) {
      this.c.finishCloseWith(
        error ? this.c.errorFromNotify(error, "IKE_AUTH") : new VpnError("ERR_IKE_PROTOCOL", "IKE_AUTH response lacks IDr")
      );
      return;
    }
    const gwId = { type: idr.idType, data: idr.data };
    if (this.c.cfg.remoteId && !sameIdentity(gwId, this.c.cfg.remoteId)) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          `gateway identified as "${formatIdentity(gwId)}", expected "${formatIdentity(this.c.cfg.remoteId)}"`
        )
      );
      return;
    }
    this.gw = { id: gwId, idBody: _IkeAuth.idBody(idr), authenticated: false };
    if (!this.settlePpk(notifies)) return;
    const useEap = this.c.cfg.auth.kind === "eap";
    if (auth) {
      if (!this.verifyGatewayAuth(auth, inner)) return;
      this.gw.authenticated = true;
      if (this.c.cfg.auth.kind === "eap") this.c.cfg.auth.peer.gatewayAuthenticated();
    } else if (!(useEap && eap)) {
      this.c.fail(
        error ? this.c.errorFromNotify(error, "IKE_AUTH") : new VpnError("ERR_IKE_PROTOCOL", "IKE_AUTH response lacks AUTH")
      );
      return;
    } else if (!this.c.cfg.gatewayAuth.eapOnly) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          "the gateway did not authenticate itself (no AUTH payload): it wants EAP-only authentication (RFC 5998). --eap-only allows that with EAP-TLS alone: the gateway is then trusted on its TLS server certificate only, and whoever answers in its place learns our EAP identity; password methods (MSCHAPv2, MD5, GTC) are never run with a gateway that has not authenticated"
        )
      );
      return;
    }
    if (useEap) {
      if (!eap || !("data" in eap)) {
        this.c.fail(
          error ? this.c.errorFromNotify(error, "IKE_AUTH") : new VpnError(
            "ERR_IKE_PROTOCOL",
            "the gateway did not start EAP although we sent no AUTH payload (RFC 7296 §2.16)"
          )
        );
        return;
      }
      this.c.tasks.eap.onEapPacket(eap.data);
      return;
    }
    this.completeAuth(inner);
  }
  /**
   * RFC 8784 §3: the gateway's PPK_IDENTITY says it used the PPK (its AUTH, SK_d and all later
   * keys use the mixed keys); without it, it authenticated us by NO_PPK_AUTH and the plain keys
   * stay — refused with --ppk-required. False when the SA failed.
   */
  settlePpk(notifies) {
    const keymat = this.c.ike.sa.keymat;
    if (!keymat.ppkPending) return true;
    const used = notifies.some((n) => n.notifyType === NotifyType.PPK_IDENTITY);
    keymat.settlePpk(used);
    this.c.ike.ppkUsed = used;
    if (used) {
      this.c.log.info("ike", "the gateway uses our post-quantum preshared key (RFC 8784)");
      return true;
    }
    const id = printable(Buffer.from(this.c.cfg.ppk.id).toString("latin1"));
    if (this.c.cfg.ppk.required) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          `the gateway did not use the post-quantum preshared key "${id}" (no PPK_IDENTITY in its IKE_AUTH response, RFC 8784 §3), and --ppk-required is set`
        )
      );
      return false;
    }
    this.c.warn(
      `the gateway has no post-quantum preshared key "${id}" and accepted us without it (NO_PPK_AUTH): continuing without the PPK`
    );
    return true;
  }
  /** Checks the gateway's AUTH payload (RFC 7296 §2.15): a PSK MAC or a certificate signature. */
  verifyGatewayAuth(auth, inner) {
    const keymat = this.c.ike.sa.keymat;
    const gw = this.gw;
    const octets = keymat.authOctets(
      "responder",
      this.c.ike.initResponse,
      this.c.ike.ni,
      gw.idBody
    );
    const policy = this.c.cfg.gatewayAuth;
    if (auth.method === AuthMethod.SHARED_KEY_MIC) {
      if (!policy.psk) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_AUTH_FAILED",
            "the gateway authenticated with a pre-shared key, but we expect a certificate from it"
          )
        );
        return false;
      }
      if (!keymat.verifyPskAuth(policy.psk, octets, auth.data)) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_AUTH_FAILED",
            "the gateway's AUTH does not match our pre-shared key: the PSKs differ (or someone is in the middle)"
          )
        );
        return false;
      }
      return true;
    }
    const method = nameOf(AuthMethod, auth.method);
    if (!policy.certs) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          `the gateway authenticated with ${method} (a certificate); this connection expects a pre-shared key from it`
        )
      );
      return false;
    }
    const certs = inner.filter((p) => p.type === PayloadType.CERT).filter((c) => c.encoding === CertEncoding.X509_SIG).map((c) => c.data);
    if (certs.length === 0) {
      this.c.fail(
        new VpnError(
          "ERR_CERT",
          "the gateway signed its AUTH but sent no X.509 certificate (CERT payload); we cannot check its identity"
        )
      );
      return false;
    }
    const checked = policy.certs.validate(certs, gw.id, this.c.now);
    if (!checked.ok) {
      this.c.fail(checked.error);
      return false;
    }
    const v = verifyAuth(checked.publicKey, auth.method, auth.data, octets, {
      ourHashes: supportedHashes()
    });
    if (!v.ok) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          `the gateway's signature (${method}) does not verify with the key of "${checked.subject}": ${v.reason}`
        )
      );
      return false;
    }
    this.c.log.info(
      "ike",
      `gateway authenticated by certificate "${checked.subject}" (${v.description})`
    );
    return true;
  }
  /** The IKE SA is authenticated: take the CP reply and the first CHILD_SA (§1.2, §2.19). */
  completeAuth(inner) {
    const gwId = this.gw.id;
    const notifies = inner.filter((p) => p.type === PayloadType.NOTIFY);
    const redirect = redirectIn(notifies, void 0);
    if (redirect !== void 0) {
      if (typeof redirect === "string") {
        this.c.fail(
          new VpnError(
            "ERR_IKE_PROTOCOL",
            `invalid REDIRECT in the IKE_AUTH response: ${redirect}`
          )
        );
      } else if (this.c.cfg.redirect === false) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_PEER_ERROR",
            `the gateway redirects us to ${redirect.value}, but redirects are refused (--no-redirect)`
          )
        );
      } else {
        this.c.emit({ type: "redirect", gateway: redirect, during: "IKE_AUTH" });
        this.c.fail(
          new VpnError(
            "ERR_IKE_PEER_ERROR",
            `the gateway redirects us to ${redirect.value} (RFC 5685 §6)`
          )
        );
      }
      return;
    }
    this.c.tasks.mobike.notePeerMobike(notifies);
    const authLifetime = this.c.tasks.reauth.authLifetime(notifies);
    const config = this.c.tasks.config.processResponse(inner);
    const childError = notifies.find((n) => n.notifyType < 16384);
    if (childError) {
      this.c.fail(this.c.errorFromNotify(childError, "CHILD_SA"));
      return;
    }
    if (this.c.cfg.request.ip4 && !config.ip4 && !config.ip6) {
      this.c.fail(new VpnError("ERR_IKE_PROTOCOL", "gateway assigned no virtual IP address"));
      return;
    }
    const child = this.c.tasks.child.processResponse(inner, notifies);
    if (!child) return;
    this.c.setState("established");
    this.c.ike.lastAlive = this.c.now;
    this.c.tasks.dpd.scheduleDpd();
    this.c.tasks.ikeRekey.scheduleIkeRekey();
    this.c.emit({
      type: "established",
      info: {
        localId: formatIdentity(this.c.cfg.localId),
        remoteId: formatIdentity(gwId),
        ikeProposal: formatChosen(this.c.ike.ikeProposal),
        espProposal: child.proposal,
        natHere: this.c.ike.natHere,
        natThere: this.c.ike.natThere,
        config,
        ...authLifetime !== void 0 ? { authLifetimeS: authLifetime } : {},
        tsLocal: child.tsLocal.map(formatTs),
        tsRemote: child.tsRemote.map(formatTs),
        spiI: Buffer.from(this.c.ike.sa.spiI).toString("hex"),
        spiR: Buffer.from(this.c.ike.sa.spiR).toString("hex"),
        remote: this.c.ike.remote,
        ...this.c.cfg.ppk ? { ppk: this.c.ike.ppkUsed } : {}
      }
    });
  }
};

// src/core/dns-name.ts
var MAX_DOMAIN_NAME = 253;
function isDomainName(d) {
  if (d.length === 0 || d.length > MAX_DOMAIN_NAME) return false;
  return d.split(".").every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}
function parseDomainAttribute(value) {
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  if (end === 0 || end > MAX_DOMAIN_NAME + 1) return void 0;
  let d = "";
  for (let i = 0; i < end; i++) {
    const c = value[i];
    if (c < 33 || c > 126) return void 0;
    d += String.fromCharCode(c);
  }
  if (d.endsWith(".")) d = d.slice(0, -1);
  return isDomainName(d) ? d.toLowerCase() : void 0;
}

// src/ike/config-payload.ts
function buildConfigRequest(req3) {
  const attributes = [];
  const empty2 = new Uint8Array(0);
  if (req3.ip4) attributes.push({ type: CfgAttr.INTERNAL_IP4_ADDRESS, value: empty2 });
  if (req3.ip4 && req3.dns) attributes.push({ type: CfgAttr.INTERNAL_IP4_DNS, value: empty2 });
  if (req3.ip6) attributes.push({ type: CfgAttr.INTERNAL_IP6_ADDRESS, value: empty2 });
  if (req3.ip6 && req3.dns) attributes.push({ type: CfgAttr.INTERNAL_IP6_DNS, value: empty2 });
  if (req3.dns) attributes.push({ type: CfgAttr.INTERNAL_DNS_DOMAIN, value: empty2 });
  return { type: PayloadType.CP, critical: false, cfgType: CfgType.REQUEST, attributes };
}
function parseConfigReply(cp) {
  const out = { dns4: [], dns6: [], domains: [], subnets: [], unknown: [] };
  for (const a of cp.attributes) {
    const v = a.value;
    switch (a.type) {
      case CfgAttr.INTERNAL_IP4_ADDRESS:
        if (v.length === 4) out.ip4 ??= formatIpAddress(v);
        else if (v.length !== 0) out.unknown.push(a.type);
        break;
      case CfgAttr.INTERNAL_IP4_NETMASK:
        if (v.length === 4) out.ip4Netmask = formatIpAddress(v);
        break;
      case CfgAttr.INTERNAL_IP4_DNS:
        if (v.length === 4) out.dns4.push(formatIpAddress(v));
        break;
      case CfgAttr.INTERNAL_IP6_ADDRESS:
        if (v.length === 17)
          out.ip6 ??= { address: formatIpAddress(v.subarray(0, 16)), prefix: v[16] };
        else if (v.length !== 0) out.unknown.push(a.type);
        break;
      case CfgAttr.INTERNAL_IP6_DNS:
        if (v.length === 16) out.dns6.push(formatIpAddress(v));
        break;
      case CfgAttr.INTERNAL_DNS_DOMAIN: {
        if (v.length === 0) break;
        const d = parseDomainAttribute(v);
        if (d === void 0) out.unknown.push(a.type);
        else if (!out.domains.includes(d)) out.domains.push(d);
        break;
      }
      case CfgAttr.INTERNAL_IP4_SUBNET:
        if (v.length === 8)
          out.subnets.push(`${formatIpAddress(v.subarray(0, 4))}/${maskToPrefix(v.subarray(4))}`);
        break;
      case CfgAttr.INTERNAL_IP6_SUBNET:
        if (v.length === 17) out.subnets.push(`${formatIpAddress(v.subarray(0, 16))}/${v[16]}`);
        break;
      default:
        out.unknown.push(a.type);
    }
  }
  return out;
}
function maskToPrefix(mask2) {
  let n = 0;
  for (const b of mask2) {
    for (let i = 7; i >= 0; i--) {
      if (b >> i & 1) n++;
      else return n;
    }
  }
  return n;
}

// src/ike/tasks/ike-config.ts
var IkeConfig = class {
  c;
  constructor(c) {
    this.c = c;
  }
  /** CP(CFG_REQUEST) for what the configuration asks (virtual IPv4/IPv6, DNS), if anything. */
  buildRequest() {
    const cp = buildConfigRequest(this.c.cfg.request);
    return cp.attributes.length > 0 ? [cp] : [];
  }
  /** The gateway's CP(CFG_REPLY), capped; an empty configuration without one. */
  processResponse(inner) {
    const cp = inner.find((p) => p.type === PayloadType.CP);
    return cp ? this.cappedConfig(cp) : { dns4: [], dns6: [], domains: [], subnets: [], unknown: [] };
  }
  /** The CP reply with DNS servers, domains and subnets capped (8 per family, 16, 32). */
  cappedConfig(cp) {
    const { config, warnings } = capConfigReply(parseConfigReply(cp));
    for (const w of warnings) this.c.warn(`gateway's configuration: ${w}`);
    return config;
  }
};

// src/ike/multi-ke.ts
function intAuthData(header, firstInner, innerBytes) {
  const out = new Uint8Array(28 + 4 + innerBytes.length);
  const dv = new DataView(out.buffer);
  out.set(header.spiI, 0);
  out.set(header.spiR, 8);
  out[16] = PayloadType.SK;
  out[17] = header.version;
  out[18] = header.exchangeType;
  out[19] = header.flags;
  dv.setUint32(20, header.messageId >>> 0);
  dv.setUint32(24, out.length);
  out[28] = firstInner;
  out[29] = 0;
  dv.setUint16(30, 4 + innerBytes.length);
  out.set(innerBytes, 32);
  return out;
}
function finalIntAuth(iN, rN, ikeAuthMid) {
  const mid = new Uint8Array(4);
  new DataView(mid.buffer).setUint32(0, ikeAuthMid >>> 0);
  return concatBytes(iN, rN, mid);
}

// src/ike/tasks/ike-intermediate.ts
var IkeIntermediate = class {
  exchange = ExchangeType.IKE_INTERMEDIATE;
  what = "IKE_INTERMEDIATE (additional key exchange)";
  c;
  /** The methods still to run, ADDKE order. */
  pending = [];
  ke;
  /** RFC 9242 §3.3.2: IntAuth_iN-1 and IntAuth_rN-1 (empty before the first exchange). */
  intAuthI = new Uint8Array(0);
  intAuthR = new Uint8Array(0);
  /** IKE_INTERMEDIATE exchanges completed on this SA. */
  done = 0;
  constructor(c) {
    this.c = c;
  }
  /** After IKE_SA_INIT: run the chosen additional key exchanges, then IKE_AUTH. */
  start() {
    const chosen = this.c.ike.ikeProposal;
    if (this.c.cfg.pqRequired && (!chosen || !isPostQuantum(chosen))) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_NO_PROPOSAL",
          `the gateway chose ${chosen ? formatChosen(chosen) : "no proposal"}, without a post-quantum key exchange, and --pq required is set (it must choose ML-KEM, e.g. x25519-ke1_mlkem768)`
        )
      );
      return;
    }
    this.pending = (chosen?.addKe ?? []).map((a) => a.id);
    this.intAuthI = new Uint8Array(0);
    this.intAuthR = new Uint8Array(0);
    this.done = 0;
    if (this.pending.length === 0) {
      this.c.tasks.auth.sendAuth();
      return;
    }
    this.c.log.info(
      "ike",
      `key exchanges: ${describeKeyExchanges(chosen)} (RFC 9370, ${this.pending.length} IKE_INTERMEDIATE exchange${this.pending.length === 1 ? "" : "s"})`
    );
    this.c.xchg.initiate(this);
  }
  buildRequest() {
    const method = this.pending[0];
    this.ke = createKeyExchange(method, this.c.random);
    const inner = [
      { type: PayloadType.KE, critical: false, dhGroup: method, data: this.ke.publicValue }
    ];
    const chain = encodePayloadChain(inner);
    const sa = this.c.ike.sa;
    const data = intAuthData(
      {
        spiI: sa.spiI,
        spiR: sa.spiR,
        version: 32,
        exchangeType: this.exchange,
        flags: HeaderFlag.INITIATOR,
        messageId: sa.nextMid
      },
      chain.first,
      chain.bytes
    );
    this.intAuthI = sa.keymat.intAuthStep("initiator", this.intAuthI, data);
    return inner;
  }
  processResponse(header, inner) {
    const method = this.pending[0];
    const ke = this.ke;
    const keymat = this.c.ike.sa.keymat;
    const plain = this.c.xchg.lastInner;
    if (method === void 0 || !ke || !keymat || !plain) {
      this.c.fail(new VpnError("ERR_IKE_PROTOCOL", "unexpected IKE_INTERMEDIATE response"));
      return;
    }
    const error = filterPayloads(inner, PayloadType.NOTIFY).find((n) => n.notifyType < 16384);
    if (error) {
      this.c.fail(this.c.errorFromNotify(error, "IKE_INTERMEDIATE"));
      return;
    }
    const kePayload = findPayload(inner, PayloadType.KE);
    if (!kePayload || kePayload.dhGroup !== method) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          kePayload ? `the gateway answered our ${nameOf(DhGroup, method)} IKE_INTERMEDIATE key exchange with a ${nameOf(DhGroup, kePayload.dhGroup)} KE payload (RFC 9370 §2.2.2)` : "the gateway answered IKE_INTERMEDIATE without a KE payload (RFC 9370 §2.2.2)"
        )
      );
      return;
    }
    let shared;
    try {
      shared = ke.computeSharedSecret(kePayload.data);
    } catch (e) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          `the gateway's ${nameOf(DhGroup, method)} key exchange value is invalid: ${e.message}`
        )
      );
      return;
    }
    this.ke = void 0;
    this.intAuthR = keymat.intAuthStep(
      "responder",
      this.intAuthR,
      intAuthData(header, plain.first, plain.bytes)
    );
    const sa = this.c.ike.sa;
    const next = new IkeKeymat({
      proposal: this.c.ike.ikeProposal,
      weInitiated: true,
      rekeyOf: keymat.rekeySeed(),
      ni: this.c.ike.ni,
      nr: this.c.ike.nr,
      spiI: sa.spiI,
      spiR: sa.spiR,
      sharedSecret: shared
    });
    wipe(shared);
    keymat.wipe();
    sa.keymat = next;
    this.done++;
    this.pending.shift();
    this.c.log.debug("ike", `IKE_INTERMEDIATE ${this.done}: ${nameOf(DhGroup, method)} mixed in`);
    if (this.pending.length > 0) {
      this.c.xchg.initiate(this);
      return;
    }
    next.intAuth = finalIntAuth(this.intAuthI, this.intAuthR, sa.nextMid);
    this.c.tasks.auth.sendAuth();
  }
};

// src/ike/tasks/ike-rekey.ts
var IkeRekey = class {
  c;
  /**
   * §2.8.1 simultaneous IKE SA rekey: the SA the gateway's rekey created while ours was in flight
   * (adopted if ours loses the nonce comparison; the loser the gateway deletes is ike.redundant).
   */
  collision;
  /** Our rekey, from its start (queued or in flight) until its response. */
  ikeRekeying;
  constructor(c) {
    this.c = c;
  }
  /** §1.3.2 / §2.18: the gateway rekeys the IKE SA; the new SA's original initiator is the gateway. */
  respondIkeRekey(ctx, keymat, offered, ni, ke) {
    if (!ke) return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    const oursInFlight = this.c.ike.sa.outstanding?.what === IKE_REKEY_WHAT;
    if (this.c.ike.pendingNext || this.collision || this.ikeRekeying && !oursInFlight) {
      if (this.ikeRekeying && !oursInFlight && !this.c.ike.pendingNext && !this.collision) {
        this.ikeRekeying = void 0;
      } else {
        return { reply: [this.c.notify(NotifyType.TEMPORARY_FAILURE)] };
      }
    }
    const choice = chooseFromOffer(offered, this.c.cfg.ikeProposals, ProtocolId.IKE, {
      dhGroup: ke.dhGroup,
      acceptDh: isSupportedGroup
    });
    if (!choice) {
      const other = chooseFromOffer(offered, this.c.cfg.ikeProposals, ProtocolId.IKE, {
        acceptDh: isSupportedGroup
      });
      if (other?.chosen.dh && other.chosen.dh.id !== ke.dhGroup) {
        const g = new Uint8Array(2);
        new DataView(g.buffer).setUint16(0, other.chosen.dh.id);
        return { reply: [this.c.notify(NotifyType.INVALID_KE_PAYLOAD, g)] };
      }
      return { reply: [this.c.notify(NotifyType.NO_PROPOSAL_CHOSEN)] };
    }
    if (choice.chosen.spi.length !== 8)
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    const addKe = choice.chosen.addKe ?? [];
    if (addKe.length > 0 && oursInFlight)
      return { reply: [this.c.notify(NotifyType.TEMPORARY_FAILURE)] };
    let mine;
    let shared;
    try {
      const r = respondKeyExchange(ke.dhGroup, ke.data, this.c.random);
      mine = r;
      shared = r.sharedSecret;
    } catch {
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    }
    const nr = this.c.random.bytes(32);
    const spiR = this.c.randomNonZero(8);
    const next = newContext(choice.chosen.spi.slice(), spiR, false);
    const derive = (additional) => {
      next.keymat = new IkeKeymat({
        proposal: choice.chosen,
        weInitiated: false,
        rekeyOf: keymat.rekeySeed(),
        ni,
        nr,
        spiI: next.spiI,
        spiR,
        sharedSecret: shared,
        ...additional.length > 0 ? { additional } : {}
      });
      wipe(shared, ...additional);
    };
    if (addKe.length === 0) derive([]);
    const reply = [
      {
        type: PayloadType.SA,
        critical: false,
        proposals: [
          {
            num: choice.chosen.num,
            protocol: ProtocolId.IKE,
            spi: spiR,
            transforms: choice.transforms
          }
        ]
      },
      { type: PayloadType.NONCE, critical: false, data: nr },
      { type: PayloadType.KE, critical: false, dhGroup: ke.dhGroup, data: mine.publicValue }
    ];
    if (oursInFlight) {
      this.collision = { ctx: next, ni: ni.slice(), nr, proposal: choice.chosen };
      return { reply };
    }
    const adopt = () => {
      if (this.c.ike.retired) this.c.ike.retired.keymat?.wipe();
      this.c.ike.retired = ctx;
      this.c.ike.sa = next;
      this.c.ike.ikeProposal = choice.chosen;
      this.scheduleIkeRekey();
      this.c.counters.ikeRekeys++;
      this.c.emit({
        type: "rekeyed",
        what: "ike",
        by: "peer",
        proposal: formatChosen(choice.chosen)
      });
    };
    if (addKe.length > 0) {
      const link = this.c.tasks.followup.expect(
        addKe.map((a) => a.id),
        (secrets) => {
          if (this.c.ike.sa !== ctx || this.c.ike.state !== "established") {
            wipe(shared, ...secrets);
            return;
          }
          derive(secrets);
          adopt();
        },
        () => wipe(shared)
      );
      reply.push(this.c.notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, link));
      return { reply };
    }
    return { reply, after: adopt };
  }
  scheduleIkeRekey() {
    if (this.c.cfg.ikeRekeyMs <= 0) return;
    const jitter = new DataView(this.c.random.bytes(4).buffer).getUint32(0) / 4294967296 * 0.1;
    this.c.out.push({
      kind: "setTimer",
      timer: "rekey-ike",
      at: this.c.now + this.c.cfg.ikeRekeyMs * (1 - jitter)
    });
  }
  /** CREATE_CHILD_SA { SA(IKE, new SPIi), Ni, KEi } on the current IKE SA. */
  startIkeRekey(group) {
    if (this.c.ike.state !== "established" || this.ikeRekeying || this.c.ike.pendingNext || !this.c.ike.ikeProposal?.dh)
      return;
    const dh = group ?? this.c.ike.ikeProposal.dh.id;
    this.ikeRekeying = {
      ni: this.c.random.bytes(32),
      spiI: this.c.randomNonZero(8),
      ke: createKeyExchange(dh, this.c.random)
    };
    this.c.xchg.enqueue(() => {
      const r = this.ikeRekeying;
      if (!r) return;
      const inner = [
        {
          type: PayloadType.SA,
          critical: false,
          proposals: buildProposals(this.c.cfg.ikeProposals, ProtocolId.IKE, r.spiI)
        },
        { type: PayloadType.NONCE, critical: false, data: r.ni },
        { type: PayloadType.KE, critical: false, dhGroup: r.ke.group, data: r.ke.publicValue }
      ];
      this.c.xchg.initiate({
        exchange: ExchangeType.CREATE_CHILD_SA,
        what: IKE_REKEY_WHAT,
        buildRequest: () => inner,
        processResponse: (_h, p) => this.processOwnIkeRekey(p)
      });
    });
  }
  processOwnIkeRekey(inner) {
    const r = this.ikeRekeying;
    this.ikeRekeying = void 0;
    const old = this.c.ike.sa;
    if (!r || !old.keymat) return;
    const retryLater = (why) => {
      this.c.log.info("ike", `IKE SA rekey not done (${why}); retrying in 10 s`);
      this.c.out.push({ kind: "setTimer", timer: "rekey-ike", at: this.c.now + 1e4 });
    };
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    const invalidKe = notifies.find((n) => n.notifyType === NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe && invalidKe.data.length === 2) {
      const wanted = new DataView(invalidKe.data.buffer, invalidKe.data.byteOffset, 2).getUint16(0);
      if (wanted !== r.ke.group && this.c.cfg.ikeProposals.some((p) => p.dh.some((d) => d.id === wanted))) {
        this.startIkeRekey(wanted);
        return;
      }
    }
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      if (this.collision) {
        this.adoptCollision(old);
        return;
      }
      retryLater(nameOf(NotifyType, error.notifyType));
      return;
    }
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    const ke = findPayload(inner, PayloadType.KE);
    const chosen = sa ? selectResponderProposal(this.c.cfg.ikeProposals, sa.proposals, ProtocolId.IKE) : "no SA";
    if (this.collision && (!nonce || typeof chosen === "string")) {
      this.adoptCollision(old);
      return;
    }
    if (!nonce || !ke || typeof chosen === "string" || chosen.spi.length !== 8 || chosen.dh?.id !== r.ke.group || ke.dhGroup !== r.ke.group) {
      retryLater(typeof chosen === "string" ? chosen : "malformed response");
      return;
    }
    let shared;
    try {
      shared = r.ke.computeSharedSecret(ke.data);
    } catch (e) {
      retryLater(e.message);
      return;
    }
    const addKe = chosen.addKe ?? [];
    if (addKe.length > 0) {
      const link = notifies.find((n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE);
      if (!link) {
        wipe(shared);
        retryLater("additional key exchanges chosen without ADDITIONAL_KEY_EXCHANGE");
        return;
      }
      const sk0 = shared;
      runFollowupKe(
        this.c,
        IKE_REKEY_WHAT,
        addKe.map((a) => a.id),
        link.data.slice(),
        (o) => {
          if (!o.secrets) {
            wipe(sk0);
            retryLater(o.error ?? "IKE_FOLLOWUP_KE failed");
            return;
          }
          if (this.c.ike.sa !== old || !old.keymat) return;
          this.finishOwnIkeRekey(old, r, chosen, nonce.data, sk0, o.secrets);
        }
      );
      return;
    }
    this.finishOwnIkeRekey(old, r, chosen, nonce.data, shared, []);
  }
  /** The new IKE SA of our rekey (§2.18; RFC 9370 §2.2.4 with `additional`), then the old one's DELETE. */
  finishOwnIkeRekey(old, r, chosen, nr, shared, additional) {
    const next = newContext(r.spiI, chosen.spi.slice(), true);
    next.keymat = new IkeKeymat({
      proposal: chosen,
      weInitiated: true,
      rekeyOf: old.keymat.rekeySeed(),
      ni: r.ni,
      nr,
      spiI: r.spiI,
      spiR: next.spiR,
      sharedSecret: shared,
      ...additional.length > 0 ? { additional } : {}
    });
    wipe(shared, ...additional);
    const c = this.collision;
    if (c) {
      this.collision = void 0;
      const lowest = [r.ni, nr, c.ni, c.nr].reduce((a, b) => Buffer.compare(a, b) <= 0 ? a : b);
      const oursLoses = lowest === r.ni || lowest === nr;
      if (oursLoses) {
        this.c.log.info(
          "ike",
          "simultaneous IKE SA rekey: the gateway's wins (lower nonce); deleting ours"
        );
        try {
          this.c.transmit(
            this.c.xchg.buildEncrypted(
              ExchangeType.INFORMATIONAL,
              0,
              false,
              [this.c.deleteIkePayload()],
              next
            )
          );
        } catch {
        }
        next.keymat?.wipe();
        this.collision = c;
        this.adoptCollision(old);
        return;
      }
      this.c.log.info("ike", "simultaneous IKE SA rekey: ours wins (lower nonce on theirs)");
      if (this.c.ike.redundant) this.c.ike.redundant.keymat?.wipe();
      this.c.ike.redundant = c.ctx;
    }
    this.c.ike.pendingNext = next;
    this.c.ike.ikeProposal = chosen;
    this.c.counters.ikeRekeys++;
    this.c.emit({ type: "rekeyed", what: "ike", by: "us", proposal: formatChosen(chosen) });
    this.c.xchg.initiate(
      {
        exchange: ExchangeType.INFORMATIONAL,
        what: OLD_IKE_DELETE,
        buildRequest: () => [this.c.deleteIkePayload()],
        processResponse: () => this.switchToNext()
      },
      () => {
        if (!this.c.ike.pendingNext) return false;
        this.switchToNext();
        this.c.xchg.runQueue();
        return true;
      }
    );
  }
  /** Takes the IKE SA the gateway's colliding rekey made; the gateway deletes the old one. */
  adoptCollision(old) {
    const c = this.collision;
    this.collision = void 0;
    if (!c) return;
    if (this.c.ike.retired) this.c.ike.retired.keymat?.wipe();
    this.c.ike.retired = old;
    this.c.ike.sa = c.ctx;
    this.c.ike.ikeProposal = c.proposal;
    this.scheduleIkeRekey();
    this.c.counters.ikeRekeys++;
    this.c.emit({ type: "rekeyed", what: "ike", by: "peer", proposal: formatChosen(c.proposal) });
    this.c.xchg.runQueue();
  }
  switchToNext() {
    const next = this.c.ike.pendingNext;
    if (!next) return;
    this.c.ike.sa.keymat?.wipe();
    this.c.ike.sa = next;
    this.c.ike.pendingNext = void 0;
    this.scheduleIkeRekey();
  }
};

// src/ike/tasks/ike-sa-init.ts
var IKE_PORT = 500;
var NATT_PORT = 4500;
var IkeSaInit = class {
  exchange = ExchangeType.IKE_SA_INIT;
  what = "IKE_SA_INIT";
  c;
  ke;
  dhGroup;
  cookie;
  initRetries = 0;
  /** `dhGroup`: the group of our first KE payload (the first of our IKE proposals). */
  constructor(c, dhGroup) {
    this.c = c;
    this.dhGroup = dhGroup;
  }
  /** The SA is closing: forget the key exchange in progress. */
  abandon() {
    this.ke = void 0;
  }
  start(local, remote) {
    if (this.c.ike.state !== "created") return;
    this.c.ike.local = local;
    this.c.ike.remote = remote;
    if (remote.port !== IKE_PORT) this.c.ike.natT = true;
    this.c.ike.sa.spiI = this.c.randomNonZero(8);
    this.c.setState("connecting");
    this.sendInit();
  }
  /** HDR, [N(COOKIE),] SA, KE, Ni, N(NAT_DETECTION_*), N(FRAG_SUP), N(SIG_HASH) (§1.2). */
  sendInit() {
    this.c.emit({ type: "stage", stage: "ike-sa-init" });
    this.c.xchg.initiate(this);
  }
  buildRequest() {
    this.ke = createKeyExchange(this.dhGroup, this.c.random);
    this.c.ike.ni = this.c.random.bytes(32);
    const zeroSpi = new Uint8Array(8);
    const payloads = [];
    if (this.cookie) payloads.push(this.c.notify(NotifyType.COOKIE, this.cookie));
    const sa = {
      type: PayloadType.SA,
      critical: false,
      proposals: buildProposals(this.c.cfg.ikeProposals, ProtocolId.IKE, new Uint8Array(0))
    };
    const ke = {
      type: PayloadType.KE,
      critical: false,
      dhGroup: this.dhGroup,
      data: this.ke.publicValue
    };
    const nonce = { type: PayloadType.NONCE, critical: false, data: this.c.ike.ni };
    const srcHash = this.c.cfg.forceEncap ? this.c.random.bytes(20) : natdHash(this.c.ike.sa.spiI, zeroSpi, this.c.ike.local);
    const dstHash = natdHash(this.c.ike.sa.spiI, zeroSpi, this.c.ike.remote);
    const hashes = supportedHashes();
    const sigHash = new Uint8Array(2 * hashes.length);
    const dv = new DataView(sigHash.buffer);
    hashes.forEach((h, i) => dv.setUint16(2 * i, h));
    payloads.push(
      sa,
      ke,
      nonce,
      this.c.notify(NotifyType.NAT_DETECTION_SOURCE_IP, srcHash),
      this.c.notify(NotifyType.NAT_DETECTION_DESTINATION_IP, dstHash),
      this.c.notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
      this.c.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, sigHash)
    );
    if (this.c.cfg.redirect !== false) {
      payloads.push(
        this.c.cfg.redirectedFrom ? this.c.notify(NotifyType.REDIRECTED_FROM, encodeGwAddress(this.c.cfg.redirectedFrom)) : this.c.notify(NotifyType.REDIRECT_SUPPORTED)
      );
    }
    if (this.c.cfg.ppk) payloads.push(this.c.notify(NotifyType.USE_PPK));
    if (this.c.cfg.ikeProposals.some((p) => p.addKe?.some((l) => l.length > 0)))
      payloads.push(this.c.notify(NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED));
    this.c.ike.sa.spiR = new Uint8Array(8);
    this.c.ike.sa.nextMid = 0;
    return payloads;
  }
  processResponse(header, payloads) {
    const notifies = payloads.filter((p) => p.type === PayloadType.NOTIFY);
    const cookie = notifies.find((n) => n.notifyType === NotifyType.COOKIE);
    if (cookie) {
      if (++this.initRetries > this.c.cfg.maxInitRetries) {
        this.c.fail(new VpnError("ERR_IKE_PROTOCOL", "gateway keeps demanding cookies; giving up"));
        return;
      }
      if (cookie.data.length < 1 || cookie.data.length > 64) {
        this.c.fail(
          new VpnError("ERR_IKE_PROTOCOL", `gateway sent a COOKIE of ${cookie.data.length} bytes`)
        );
        return;
      }
      this.c.log.info("ike", "gateway requested a cookie; retrying IKE_SA_INIT");
      this.cookie = cookie.data.slice();
      this.sendInit();
      return;
    }
    const invalidKe = notifies.find((n) => n.notifyType === NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe) {
      const wanted = invalidKe.data.length === 2 ? new DataView(invalidKe.data.buffer, invalidKe.data.byteOffset, 2).getUint16(0) : -1;
      const offered = this.c.cfg.ikeProposals.some((p) => p.dh.some((d) => d.id === wanted));
      if (wanted < 0) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_PROTOCOL",
            `gateway sent a malformed INVALID_KE_PAYLOAD (${invalidKe.data.length} bytes of data, RFC 7296 §3.10.1 wants a 2-byte group number)`
          )
        );
        return;
      }
      if (wanted === this.dhGroup) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_PROTOCOL",
            `gateway answered INVALID_KE_PAYLOAD asking for key exchange group ${nameOf(DhGroup, wanted)}, the group our KE payload already used`
          )
        );
        return;
      }
      if (!offered) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_NO_PROPOSAL",
            `gateway asked for key exchange group ${nameOf(DhGroup, wanted)}, which we did not offer (offered: ${formatSpecs(this.c.cfg.ikeProposals)})`
          )
        );
        return;
      }
      if (++this.initRetries > this.c.cfg.maxInitRetries) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_PROTOCOL",
            `gateway kept answering INVALID_KE_PAYLOAD (${this.initRetries - 1} retries, last asking for ${nameOf(DhGroup, wanted)}); giving up`
          )
        );
        return;
      }
      this.c.log.info(
        "ike",
        `gateway prefers group ${nameOf(DhGroup, wanted)}; retrying IKE_SA_INIT`
      );
      this.dhGroup = wanted;
      this.sendInit();
      return;
    }
    const redirect = redirectIn(notifies, this.c.ike.ni);
    if (redirect !== void 0) {
      if (typeof redirect === "string" || this.c.cfg.redirect === false) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_PROTOCOL",
            typeof redirect === "string" ? `the gateway answered IKE_SA_INIT with an invalid REDIRECT: ${redirect}` : `the gateway redirects us to ${redirect.value}, but redirects are refused (--no-redirect)`
          )
        );
        return;
      }
      this.c.log.info("ike", `the gateway redirects us to ${redirect.value} (RFC 5685 §3)`);
      this.c.emit({ type: "redirect", gateway: redirect, during: "IKE_SA_INIT" });
      this.c.finishClose(void 0, false);
      return;
    }
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      this.c.fail(this.c.errorFromNotify(error, "IKE_SA_INIT"));
      return;
    }
    const sa = payloads.find((p) => p.type === PayloadType.SA);
    const ke = payloads.find((p) => p.type === PayloadType.KE);
    const nonce = payloads.find((p) => p.type === PayloadType.NONCE);
    if (!sa || !ke || !nonce) {
      this.c.fail(new VpnError("ERR_IKE_PROTOCOL", "IKE_SA_INIT response lacks SA, KE or Nonce"));
      return;
    }
    if (header.spiR.every((b) => b === 0)) {
      this.c.fail(
        new VpnError("ERR_IKE_PROTOCOL", "IKE_SA_INIT response with a zero responder SPI")
      );
      return;
    }
    const chosen = selectResponderProposal(this.c.cfg.ikeProposals, sa.proposals, ProtocolId.IKE);
    if (typeof chosen === "string") {
      this.c.fail(new VpnError("ERR_IKE_PROTOCOL", `invalid IKE proposal from gateway: ${chosen}`));
      return;
    }
    if (chosen.addKe && !notifies.some((n) => n.notifyType === NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED)) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          `the gateway chose additional key exchanges (${formatChosen(chosen)}) without announcing INTERMEDIATE_EXCHANGE_SUPPORTED (RFC 9370 §2.2.1)`
        )
      );
      return;
    }
    if (!chosen.dh || chosen.dh.id !== this.dhGroup || ke.dhGroup !== this.dhGroup) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          `gateway's KE group ${ke.dhGroup} does not match ours (${this.dhGroup})`
        )
      );
      return;
    }
    this.c.ike.peerPpk = notifies.some((n) => n.notifyType === NotifyType.USE_PPK);
    const ppk = this.c.cfg.ppk;
    if (ppk && !this.c.ike.peerPpk) {
      if (ppk.required) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_AUTH_FAILED",
            "the gateway does not support post-quantum preshared keys (no USE_PPK in its IKE_SA_INIT response, RFC 8784 §3), and --ppk-required is set"
          )
        );
        return;
      }
      this.c.warn(
        "the gateway does not support post-quantum preshared keys (no USE_PPK, RFC 8784): continuing without the PPK"
      );
    }
    const ikeKe = this.ke;
    if (!ikeKe) throw new VpnError("ERR_IKE_PROTOCOL", "no key exchange in progress");
    let shared;
    try {
      shared = ikeKe.computeSharedSecret(ke.data);
    } catch (e) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          `gateway's key exchange value is invalid: ${e.message}`
        )
      );
      return;
    }
    this.c.ike.sa.spiR = header.spiR.slice();
    this.c.ike.nr = nonce.data.slice();
    this.c.ike.ikeProposal = chosen;
    this.c.ike.sa.keymat = new IkeKeymat({
      proposal: chosen,
      weInitiated: true,
      ni: this.c.ike.ni,
      nr: this.c.ike.nr,
      spiI: this.c.ike.sa.spiI,
      spiR: this.c.ike.sa.spiR,
      sharedSecret: shared
    });
    wipe(shared);
    this.ke = void 0;
    if (this.c.updateNatFrom(notifies)) {
      if (this.c.ike.natHere || this.c.ike.natThere || this.c.cfg.forceEncap) {
        this.c.ike.natT = true;
        if (this.c.ike.remote.port === IKE_PORT)
          this.c.ike.remote = { address: this.c.ike.remote.address, port: NATT_PORT };
      }
    } else if (this.c.cfg.forceEncap) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          "gateway does not support NAT traversal, which userspace ESP needs"
        )
      );
      return;
    }
    this.c.ike.peerFragmentation = notifies.some(
      (n) => n.notifyType === NotifyType.IKEV2_FRAGMENTATION_SUPPORTED
    );
    this.c.ike.peerHashes = [];
    for (const n of notifies.filter((x) => x.notifyType === NotifyType.SIGNATURE_HASH_ALGORITHMS)) {
      for (let i = 0; i + 1 < n.data.length; i += 2)
        this.c.ike.peerHashes.push(n.data[i] << 8 | n.data[i + 1]);
    }
    this.c.log.info(
      "ike",
      `IKE_SA_INIT done: ${formatChosen(chosen)}${this.c.ike.natT ? ", NAT-T on port 4500" : ""}`
    );
    this.c.tasks.intermediate.start();
  }
};

// src/ike/tasks/mobike.ts
var Mobike = class {
  c;
  constructor(c) {
    this.c = c;
  }
  notePeerMobike(notifies) {
    if (notifies.some((n) => n.notifyType === NotifyType.MOBIKE_SUPPORTED))
      this.c.ike.peerMobike = true;
  }
  /** The driver saw our address (the source of the path to the gateway) change. */
  onLocalAddress(local) {
    const changed = local.address !== this.c.ike.local.address;
    this.c.ike.local = local;
    if (!changed || this.c.ike.state !== "established") return;
    if (this.c.cfg.mobike === false || !this.c.ike.peerMobike) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_TIMEOUT",
          `our address changed to ${local.address} and the gateway does not support MOBIKE: reconnecting`
        )
      );
      return;
    }
    this.c.xchg.enqueue(() => this.sendAddressUpdate());
  }
  /**
   * RFC 4555 §3.5: INFORMATIONAL { N(UPDATE_SA_ADDRESSES), N(NAT_D)×2, N(COOKIE2) } sent from the
   * new address; the gateway moves the IKE SA and its CHILD_SAs to the address it came from.
   */
  sendAddressUpdate(why = "moved") {
    const cookie2 = this.c.random.bytes(16);
    const from = { ...this.c.ike.local };
    const inner = [
      this.c.notify(NotifyType.UPDATE_SA_ADDRESSES),
      ...this.c.natdNotifies(),
      this.c.notify(NotifyType.COOKIE2, cookie2)
    ];
    this.c.log.info(
      "ike",
      why === "moved" ? `our address changed to ${from.address}: moving the SAs (MOBIKE)` : why === "wake" ? "after a sleep: refreshing our address at the gateway (MOBIKE, RFC 4555 §3.8)" : "no answers to our traffic: refreshing our address at the gateway (MOBIKE, RFC 4555 §3.8)"
    );
    this.c.xchg.initiate({
      exchange: ExchangeType.INFORMATIONAL,
      what: "the MOBIKE address update",
      buildRequest: () => inner,
      processResponse: (_h, p) => this.processUpdateResponse(p, from, cookie2)
    });
  }
  processUpdateResponse(inner, from, cookie2) {
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_TIMEOUT",
          `the gateway refused our new address ${from.address} (${nameOf(NotifyType, error.notifyType)}): reconnecting`
        )
      );
      return;
    }
    const echoed = notifies.find((n) => n.notifyType === NotifyType.COOKIE2);
    if (!echoed || !equalBytes(echoed.data, cookie2)) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          "MOBIKE update response without our COOKIE2 (RFC 4555 §3.5)"
        )
      );
      return;
    }
    this.c.updateNatFrom(notifies);
    this.c.emit({ type: "roamed", local: from, remote: this.c.ike.remote, by: "us" });
  }
  /** The gateway's INFORMATIONAL { N(UPDATE_SA_ADDRESSES), ... } (RFC 4555 §3.5). */
  processRequest(_ctx, inner, from) {
    return this.onPeerAddressUpdate(filterPayloads(inner, PayloadType.NOTIFY), from);
  }
  /** The gateway moved (§3.5 from its side): follow it to the address its request came from. */
  onPeerAddressUpdate(notifies, from) {
    const cookie2 = notifies.find((n) => n.notifyType === NotifyType.COOKIE2);
    const prev = this.c.ike.remote;
    this.c.ike.remote = { address: from.address, port: from.port };
    this.c.updateNatFrom(notifies);
    const reply = [...this.c.natdNotifies()];
    if (cookie2) reply.push(this.c.notify(NotifyType.COOKIE2, cookie2.data));
    if (prev.address !== from.address || prev.port !== from.port) {
      this.c.log.info("ike", `the gateway moved to ${from.address}:${from.port} (MOBIKE)`);
    }
    return {
      reply,
      after: () => this.c.emit({
        type: "roamed",
        local: this.c.ike.local,
        remote: this.c.ike.remote,
        by: "peer"
      })
    };
  }
};

// src/ike/tasks/reauth.ts
var Reauth = class {
  c;
  constructor(c) {
    this.c = c;
  }
  /**
   * §2.4: INITIAL_CONTACT tells the gateway to drop older SAs of ours — not when we replace an
   * SA that is still in use (reauthentication, RFC 4478).
   */
  initialContact() {
    return this.c.cfg.initialContact !== false ? [this.c.notify(NotifyType.INITIAL_CONTACT)] : [];
  }
  /** RFC 4478 §3: N(AUTH_LIFETIME) carries a 4-byte lifetime in seconds. */
  authLifetime(notifies) {
    const n = notifies.find((x) => x.notifyType === NotifyType.AUTH_LIFETIME);
    return n?.data.length === 4 ? new DataView(n.data.buffer, n.data.byteOffset, 4).getUint32(0) : void 0;
  }
};

// src/ike/session.ts
var IkeSession = class {
  c;
  xchg;
  tasks;
  /** RFC 5685 §5: the gateway's INFORMATIONAL REDIRECT of the established SA. */
  redirect;
  constructor(cfg, random, logger = NOOP_LOGGER) {
    const first = cfg.ikeProposals[0]?.dh[0];
    if (!first) throw new VpnError("ERR_CONFIG", "no IKE proposal with a key exchange group");
    const c = new IkeContext(cfg, random, logger);
    this.c = c;
    this.xchg = new Exchange(c, (ctx, exchange, inner) => this.responderFor(ctx, exchange, inner));
    this.tasks = {
      init: new IkeSaInit(c, first.id),
      intermediate: new IkeIntermediate(c),
      followup: new FollowupResponder(c),
      auth: new IkeAuth(c),
      eap: new IkeAuthEap(c),
      config: new IkeConfig(c),
      child: new CreateChildSa(c),
      childRekey: new ChildRekey(c),
      ikeRekey: new IkeRekey(c),
      dpd: new Dpd(c),
      del: new Delete(c),
      mobike: new Mobike(c),
      reauth: new Reauth(c)
    };
    c.xchg = this.xchg;
    c.tasks = this.tasks;
    this.redirect = new RedirectResponder(c);
  }
  /** The session's lifecycle state (see the header comment). */
  get state() {
    return this.c.ike.state;
  }
  /** Counters of what the session sent, retransmitted, rekeyed and dropped (by reason). */
  get counters() {
    return this.c.counters;
  }
  /** Feeds one input; returns what the driver must do, in order. Never throws on bad peer input. */
  handle(input, now) {
    const c = this.c;
    const t = this.tasks;
    c.now = now;
    c.out = [];
    try {
      switch (input.kind) {
        case "start":
          t.init.start(input.local, input.remote);
          break;
        case "datagram":
          this.xchg.onDatagramCounted(input.data, input.from);
          break;
        case "timer":
          this.onTimer(input.timer);
          break;
        case "close":
          t.del.close();
          break;
        case "localAddress":
          t.mobike.onLocalAddress(input.local);
          break;
        case "activity":
          c.ike.lastAlive = Math.max(c.ike.lastAlive, input.at);
          break;
        case "rekeyChild":
          t.childRekey.startChildRekey();
          break;
        case "probe":
          if (c.ike.state === "established" && !c.ike.sa.outstanding && this.xchg.idle()) {
            if (c.ike.peerMobike && c.cfg.mobike !== false) t.mobike.sendAddressUpdate("probe");
            else t.dpd.sendDpd();
          }
          break;
        case "wake":
          this.onWake(input.sleptMs, input.budgetMs);
          break;
        case "eapResponse":
          t.eap.onAsyncEap(input.packet);
          break;
        case "eapFailed":
          if (t.eap.eapPending) c.fail(input.error);
          break;
      }
    } catch (e) {
      const err = isVpnError(e) ? e : new VpnError("ERR_IKE_PROTOCOL", `internal error: ${e.message}`, { cause: e });
      c.fail(err);
    }
    return c.out;
  }
  get remoteEndpoint() {
    return this.c.ike.remote;
  }
  get isNatHere() {
    return this.c.ike.natHere;
  }
  get usesNatT() {
    return this.c.ike.natT;
  }
  /** Did the gateway announce IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3)? */
  get peerSupportsFragmentation() {
    return this.c.ike.peerFragmentation;
  }
  /** Did the gateway announce MOBIKE (RFC 4555 §3.1)? */
  get peerSupportsMobike() {
    return this.c.ike.peerMobike;
  }
  /** Total time from the first send until we give up, for messages. */
  totalTimeoutMs() {
    return this.xchg.totalTimeoutMs();
  }
  /**
   * After a sleep the gateway may have forgotten the IKE SA (its DPD or lifetimes ran out) and a
   * NAT may have dropped our mapping. RFC 7296 §2.4: check liveness now, with a short budget,
   * instead of waiting for DPD and its full retransmission schedule: a request that was in
   * flight is resent once; otherwise a MOBIKE address update (which also lets the gateway follow
   * a new NAT mapping, RFC 4555 §3.8) or an empty INFORMATIONAL is sent. No answer within the
   * budget ends the SA with ERR_IKE_TIMEOUT, and the driver reconnects.
   */
  onWake(sleptMs, budgetMs) {
    const c = this.c;
    if (c.ike.state !== "established") return;
    const secs = (sleptMs / 1e3).toFixed(0);
    if (c.ike.sa.outstanding) {
      c.log.info("ike", `woke after ${secs} s: resending ${c.ike.sa.outstanding.what} once`);
      this.xchg.hurry(budgetMs, true);
      return;
    }
    c.log.info("ike", `woke after ${secs} s: checking that the gateway still knows us`);
    if (c.ike.peerMobike && c.cfg.mobike !== false) this.tasks.mobike.sendAddressUpdate("wake");
    else this.tasks.dpd.sendDpd();
    this.xchg.hurry(budgetMs, false);
  }
  onTimer(timer) {
    switch (timer) {
      case "dpd":
        this.tasks.dpd.onDpdTimer();
        return;
      case "rekey-child":
        this.tasks.childRekey.startChildRekey();
        return;
      case "rekey-ike":
        this.tasks.ikeRekey.startIkeRekey();
        return;
      case "retransmit":
        this.xchg.onRetransmitTimer();
        return;
    }
  }
  /** Which task answers a request of the gateway's (RFC 7296 §1.3, §1.4; RFC 4555 §3.5). */
  responderFor(ctx, exchange, inner) {
    switch (exchange) {
      case ExchangeType.INFORMATIONAL:
        if (ctx === this.c.ike.sa && RedirectResponder.matches(exchange, inner))
          return this.redirect;
        if (ctx === this.c.ike.sa && this.c.ike.peerMobike && filterPayloads(inner, PayloadType.NOTIFY).some(
          (n) => n.notifyType === NotifyType.UPDATE_SA_ADDRESSES
        )) {
          return this.tasks.mobike;
        }
        return inner.some((p) => p.type === PayloadType.DELETE) ? this.tasks.del : this.tasks.dpd;
      case ExchangeType.CREATE_CHILD_SA:
        return this.tasks.child;
      case ExchangeType.IKE_FOLLOWUP_KE:
        return this.tasks.followup;
      default:
        return void 0;
    }
  }
};

// src/client/routes.ts
function toBig(b) {
  let v = 0n;
  for (const x of b) v = v << 8n | BigInt(x);
  return v;
}
function fromBig2(v, len) {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
function rangeToCidrs(start, end) {
  if (start.length !== end.length) return [];
  const bits = start.length * 8;
  let lo = toBig(start);
  const hi = toBig(end);
  const out = [];
  while (lo <= hi) {
    let size = 0;
    while (size < bits) {
      const next = 1n << BigInt(size + 1);
      if (lo % next !== 0n || lo + next - 1n > hi) break;
      size++;
    }
    out.push(`${formatIpAddress(fromBig2(lo, start.length))}/${bits - size}`);
    lo += 1n << BigInt(size);
  }
  return out;
}
function cidrContainsBytes(net, prefix, ip) {
  if (net.length !== ip.length) return false;
  const bits = net.length * 8;
  const shift = BigInt(bits - prefix);
  return toBig(net) >> shift === toBig(ip) >> shift;
}
var MAX_TUNNEL_ROUTES = 200;
var MAX_DNS_HOST_ROUTES = 16;
function planTunnelRoutes(selectors, dnsServers, max = MAX_TUNNEL_ROUTES) {
  const routes = [];
  const seen = /* @__PURE__ */ new Set();
  let dropped = 0;
  for (const ts of selectors) {
    for (const c of rangeToCidrs(ts.startAddr, ts.endAddr)) {
      if (seen.has(c)) continue;
      seen.add(c);
      if (routes.length < max) routes.push(c);
      else dropped++;
    }
  }
  const warnings = [];
  if (dropped > 0) {
    warnings.push(
      `the gateway's traffic selectors need ${routes.length + dropped} routes; only the first ${max} were installed (${dropped} dropped)`
    );
  }
  const dns = [];
  const droppedDns = [];
  let hostRoutes = 0;
  for (const s of dnsServers) {
    let ip;
    try {
      ip = parseIpAddress(s);
    } catch {
      droppedDns.push(s);
      continue;
    }
    const covered = selectors.some(
      (ts) => (ts.ipProtocol === 0 || ts.ipProtocol === 17) && ts.startPort <= 53 && 53 <= ts.endPort && inRange2(ip, ts.startAddr, ts.endAddr)
    );
    if (!covered) {
      droppedDns.push(s);
      continue;
    }
    const routed = routes.some((c) => {
      const [net, len] = c.split("/");
      return cidrContainsBytes(parseIpAddress(net), Number(len), ip);
    });
    if (!routed) {
      if (hostRoutes >= MAX_DNS_HOST_ROUTES) {
        droppedDns.push(s);
        continue;
      }
      hostRoutes++;
      routes.push(`${s}/${ip.length === 4 ? 32 : 128}`);
    }
    dns.push(s);
  }
  if (droppedDns.length > 0) {
    warnings.push(
      `not using the gateway's DNS server${droppedDns.length > 1 ? "s" : ""} ${droppedDns.slice(0, 8).join(", ")}${droppedDns.length > 8 ? ` and ${droppedDns.length - 8} more` : ""}: outside the tunnel's routed traffic selectors, queries would leave unencrypted`
    );
  }
  return { routes, droppedRoutes: dropped, dns, droppedDns, warnings };
}
function inRange2(ip, start, end) {
  if (ip.length !== start.length || ip.length !== end.length) return false;
  const v = toBig(ip);
  return toBig(start) <= v && v <= toBig(end);
}

// src/eap/methods.ts
import { createHash as createHash2 } from "node:crypto";

// src/crypto/des.ts
var IP = [
  58,
  50,
  42,
  34,
  26,
  18,
  10,
  2,
  60,
  52,
  44,
  36,
  28,
  20,
  12,
  4,
  62,
  54,
  46,
  38,
  30,
  22,
  14,
  6,
  64,
  56,
  48,
  40,
  32,
  24,
  16,
  8,
  57,
  49,
  41,
  33,
  25,
  17,
  9,
  1,
  59,
  51,
  43,
  35,
  27,
  19,
  11,
  3,
  61,
  53,
  45,
  37,
  29,
  21,
  13,
  5,
  63,
  55,
  47,
  39,
  31,
  23,
  15,
  7
];
var FP = [
  40,
  8,
  48,
  16,
  56,
  24,
  64,
  32,
  39,
  7,
  47,
  15,
  55,
  23,
  63,
  31,
  38,
  6,
  46,
  14,
  54,
  22,
  62,
  30,
  37,
  5,
  45,
  13,
  53,
  21,
  61,
  29,
  36,
  4,
  44,
  12,
  52,
  20,
  60,
  28,
  35,
  3,
  43,
  11,
  51,
  19,
  59,
  27,
  34,
  2,
  42,
  10,
  50,
  18,
  58,
  26,
  33,
  1,
  41,
  9,
  49,
  17,
  57,
  25
];
var E = [
  32,
  1,
  2,
  3,
  4,
  5,
  4,
  5,
  6,
  7,
  8,
  9,
  8,
  9,
  10,
  11,
  12,
  13,
  12,
  13,
  14,
  15,
  16,
  17,
  16,
  17,
  18,
  19,
  20,
  21,
  20,
  21,
  22,
  23,
  24,
  25,
  24,
  25,
  26,
  27,
  28,
  29,
  28,
  29,
  30,
  31,
  32,
  1
];
var P2 = [
  16,
  7,
  20,
  21,
  29,
  12,
  28,
  17,
  1,
  15,
  23,
  26,
  5,
  18,
  31,
  10,
  2,
  8,
  24,
  14,
  32,
  27,
  3,
  9,
  19,
  13,
  30,
  6,
  22,
  11,
  4,
  25
];
var PC1 = [
  57,
  49,
  41,
  33,
  25,
  17,
  9,
  1,
  58,
  50,
  42,
  34,
  26,
  18,
  10,
  2,
  59,
  51,
  43,
  35,
  27,
  19,
  11,
  3,
  60,
  52,
  44,
  36,
  63,
  55,
  47,
  39,
  31,
  23,
  15,
  7,
  62,
  54,
  46,
  38,
  30,
  22,
  14,
  6,
  61,
  53,
  45,
  37,
  29,
  21,
  13,
  5,
  28,
  20,
  12,
  4
];
var PC2 = [
  14,
  17,
  11,
  24,
  1,
  5,
  3,
  28,
  15,
  6,
  21,
  10,
  23,
  19,
  12,
  4,
  26,
  8,
  16,
  7,
  27,
  20,
  13,
  2,
  41,
  52,
  31,
  37,
  47,
  55,
  30,
  40,
  51,
  45,
  33,
  48,
  44,
  49,
  39,
  56,
  34,
  53,
  46,
  42,
  50,
  36,
  29,
  32
];
var SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
var SBOX = [
  [
    14,
    4,
    13,
    1,
    2,
    15,
    11,
    8,
    3,
    10,
    6,
    12,
    5,
    9,
    0,
    7,
    0,
    15,
    7,
    4,
    14,
    2,
    13,
    1,
    10,
    6,
    12,
    11,
    9,
    5,
    3,
    8,
    4,
    1,
    14,
    8,
    13,
    6,
    2,
    11,
    15,
    12,
    9,
    7,
    3,
    10,
    5,
    0,
    15,
    12,
    8,
    2,
    4,
    9,
    1,
    7,
    5,
    11,
    3,
    14,
    10,
    0,
    6,
    13
  ],
  [
    15,
    1,
    8,
    14,
    6,
    11,
    3,
    4,
    9,
    7,
    2,
    13,
    12,
    0,
    5,
    10,
    3,
    13,
    4,
    7,
    15,
    2,
    8,
    14,
    12,
    0,
    1,
    10,
    6,
    9,
    11,
    5,
    0,
    14,
    7,
    11,
    10,
    4,
    13,
    1,
    5,
    8,
    12,
    6,
    9,
    3,
    2,
    15,
    13,
    8,
    10,
    1,
    3,
    15,
    4,
    2,
    11,
    6,
    7,
    12,
    0,
    5,
    14,
    9
  ],
  [
    10,
    0,
    9,
    14,
    6,
    3,
    15,
    5,
    1,
    13,
    12,
    7,
    11,
    4,
    2,
    8,
    13,
    7,
    0,
    9,
    3,
    4,
    6,
    10,
    2,
    8,
    5,
    14,
    12,
    11,
    15,
    1,
    13,
    6,
    4,
    9,
    8,
    15,
    3,
    0,
    11,
    1,
    2,
    12,
    5,
    10,
    14,
    7,
    1,
    10,
    13,
    0,
    6,
    9,
    8,
    7,
    4,
    15,
    14,
    3,
    11,
    5,
    2,
    12
  ],
  [
    7,
    13,
    14,
    3,
    0,
    6,
    9,
    10,
    1,
    2,
    8,
    5,
    11,
    12,
    4,
    15,
    13,
    8,
    11,
    5,
    6,
    15,
    0,
    3,
    4,
    7,
    2,
    12,
    1,
    10,
    14,
    9,
    10,
    6,
    9,
    0,
    12,
    11,
    7,
    13,
    15,
    1,
    3,
    14,
    5,
    2,
    8,
    4,
    3,
    15,
    0,
    6,
    10,
    1,
    13,
    8,
    9,
    4,
    5,
    11,
    12,
    7,
    2,
    14
  ],
  [
    2,
    12,
    4,
    1,
    7,
    10,
    11,
    6,
    8,
    5,
    3,
    15,
    13,
    0,
    14,
    9,
    14,
    11,
    2,
    12,
    4,
    7,
    13,
    1,
    5,
    0,
    15,
    10,
    3,
    9,
    8,
    6,
    4,
    2,
    1,
    11,
    10,
    13,
    7,
    8,
    15,
    9,
    12,
    5,
    6,
    3,
    0,
    14,
    11,
    8,
    12,
    7,
    1,
    14,
    2,
    13,
    6,
    15,
    0,
    9,
    10,
    4,
    5,
    3
  ],
  [
    12,
    1,
    10,
    15,
    9,
    2,
    6,
    8,
    0,
    13,
    3,
    4,
    14,
    7,
    5,
    11,
    10,
    15,
    4,
    2,
    7,
    12,
    9,
    5,
    6,
    1,
    13,
    14,
    0,
    11,
    3,
    8,
    9,
    14,
    15,
    5,
    2,
    8,
    12,
    3,
    7,
    0,
    4,
    10,
    1,
    13,
    11,
    6,
    4,
    3,
    2,
    12,
    9,
    5,
    15,
    10,
    11,
    14,
    1,
    7,
    6,
    0,
    8,
    13
  ],
  [
    4,
    11,
    2,
    14,
    15,
    0,
    8,
    13,
    3,
    12,
    9,
    7,
    5,
    10,
    6,
    1,
    13,
    0,
    11,
    7,
    4,
    9,
    1,
    10,
    14,
    3,
    5,
    12,
    2,
    15,
    8,
    6,
    1,
    4,
    11,
    13,
    12,
    3,
    7,
    14,
    10,
    15,
    6,
    8,
    0,
    5,
    9,
    2,
    6,
    11,
    13,
    8,
    1,
    4,
    10,
    7,
    9,
    5,
    0,
    15,
    14,
    2,
    3,
    12
  ],
  [
    13,
    2,
    8,
    4,
    6,
    15,
    11,
    1,
    10,
    9,
    3,
    14,
    5,
    0,
    12,
    7,
    1,
    15,
    13,
    8,
    10,
    3,
    7,
    4,
    12,
    5,
    6,
    11,
    0,
    14,
    9,
    2,
    7,
    11,
    4,
    1,
    9,
    12,
    14,
    2,
    0,
    6,
    10,
    13,
    15,
    3,
    5,
    8,
    2,
    1,
    14,
    7,
    4,
    10,
    8,
    13,
    15,
    12,
    9,
    0,
    3,
    5,
    6,
    11
  ]
];
function toBits(bytes) {
  const bits = new Uint8Array(bytes.length * 8);
  for (let i = 0; i < bits.length; i++) bits[i] = bytes[i >>> 3] >>> 7 - (i & 7) & 1;
  return bits;
}
function fromBits(bits) {
  const out = new Uint8Array(bits.length >>> 3);
  for (let i = 0; i < bits.length; i++) out[i >>> 3] |= bits[i] << 7 - (i & 7);
  return out;
}
function permute(bits, table) {
  const out = new Uint8Array(table.length);
  for (let i = 0; i < table.length; i++) out[i] = bits[table[i] - 1];
  return out;
}
function rotateLeft(half, n) {
  const out = new Uint8Array(half.length);
  for (let i = 0; i < half.length; i++) out[i] = half[(i + n) % half.length];
  return out;
}
function keySchedule(key) {
  const cd = permute(toBits(key), PC1);
  let c = cd.subarray(0, 28);
  let d = cd.subarray(28, 56);
  const keys = [];
  for (const s of SHIFTS) {
    c = rotateLeft(c, s);
    d = rotateLeft(d, s);
    const joined = new Uint8Array(56);
    joined.set(c, 0);
    joined.set(d, 28);
    keys.push(permute(joined, PC2));
  }
  return keys;
}
function feistel(r, k) {
  const x = permute(r, E);
  for (let i = 0; i < 48; i++) x[i] ^= k[i];
  const s = new Uint8Array(32);
  for (let box = 0; box < 8; box++) {
    const b = x.subarray(box * 6, box * 6 + 6);
    const row = b[0] << 1 | b[5];
    const col = b[1] << 3 | b[2] << 2 | b[3] << 1 | b[4];
    const v = SBOX[box][row * 16 + col];
    for (let j = 0; j < 4; j++) s[box * 4 + j] = v >>> 3 - j & 1;
  }
  return permute(s, P2);
}
function desEncryptBlock(key8, block8) {
  if (key8.length !== 8) throw new RangeError(`DES key must be 8 bytes, got ${key8.length}`);
  if (block8.length !== 8) throw new RangeError(`DES block must be 8 bytes, got ${block8.length}`);
  const keys = keySchedule(key8);
  const lr = permute(toBits(block8), IP);
  let l = lr.slice(0, 32);
  let r = lr.slice(32, 64);
  for (const k of keys) {
    const f = feistel(r, k);
    const next = new Uint8Array(32);
    for (let i = 0; i < 32; i++) next[i] = l[i] ^ f[i];
    l = r;
    r = next;
  }
  const preoutput = new Uint8Array(64);
  preoutput.set(r, 0);
  preoutput.set(l, 32);
  return fromBits(permute(preoutput, FP));
}
function desKeyFrom56(key7) {
  if (key7.length !== 7) throw new RangeError(`56-bit DES key must be 7 bytes, got ${key7.length}`);
  const bits = toBits(key7);
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    let v = 0;
    let ones = 0;
    for (let j = 0; j < 7; j++) {
      const bit = bits[i * 7 + j];
      v = v << 1 | bit;
      ones += bit;
    }
    out[i] = v << 1 | (ones % 2 === 0 ? 1 : 0);
  }
  return out;
}

// src/crypto/md4.ts
var INIT = [1732584193, 4023233417, 2562383102, 271733878];
var K2 = 1518500249;
var K3 = 1859775393;
var S1 = [3, 7, 11, 19];
var S2 = [3, 5, 9, 13];
var S3 = [3, 9, 11, 15];
var R3_ORDER = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];
var rotl = (x, s) => (x << s | x >>> 32 - s) >>> 0;
var F2 = (x, y, z) => x & y | ~x & z;
var G = (x, y, z) => x & y | x & z | y & z;
var H = (x, y, z) => x ^ y ^ z;
function compress2(state, X) {
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  for (let i = 0; i < 16; i++) {
    const t = rotl(a + F2(b, c, d) + X[i] >>> 0, S1[i % 4]);
    a = d;
    d = c;
    c = b;
    b = t;
  }
  for (let i = 0; i < 16; i++) {
    const k = i % 4 * 4 + Math.floor(i / 4);
    const t = rotl(a + G(b, c, d) + X[k] + K2 >>> 0, S2[i % 4]);
    a = d;
    d = c;
    c = b;
    b = t;
  }
  for (let i = 0; i < 16; i++) {
    const t = rotl(a + H(b, c, d) + X[R3_ORDER[i]] + K3 >>> 0, S3[i % 4]);
    a = d;
    d = c;
    c = b;
    b = t;
  }
  state[0] = state[0] + a >>> 0;
  state[1] = state[1] + b >>> 0;
  state[2] = state[2] + c >>> 0;
  state[3] = state[3] + d >>> 0;
}
function md4(data) {
  const padded = new Uint8Array((data.length + 8 >>> 6) + 1 << 6);
  padded.set(data);
  padded[data.length] = 128;
  const view = new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, bits >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(bits / 4294967296) >>> 0, true);
  const state = Uint32Array.from(INIT);
  const X = new Uint32Array(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let j = 0; j < 16; j++) X[j] = view.getUint32(off + j * 4, true);
    compress2(state, X);
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  for (let j = 0; j < 4; j++) ov.setUint32(j * 4, state[j], true);
  return out;
}

// src/eap/mschapv2.ts
var ascii = (s) => new TextEncoder().encode(s);
var AUTH_MAGIC1 = ascii("Magic server to client signing constant");
var AUTH_MAGIC2 = ascii("Pad to make it do more than one iteration");
var MPPE_MAGIC1 = ascii("This is the MPPE Master Key");
var MPPE_MAGIC2 = ascii(
  "On the client side, this is the send key; on the server side, it is the receive key."
);
var MPPE_MAGIC3 = ascii(
  "On the client side, this is the receive key; on the server side, it is the send key."
);
var SHS_PAD1 = new Uint8Array(40);
var SHS_PAD2 = new Uint8Array(40).fill(242);
var MSCHAPV2_CHALLENGE_LEN = 16;
var MSCHAPV2_NT_RESPONSE_LEN = 24;
function check(b, len, what) {
  if (b.length !== len) throw new RangeError(`${what} must be ${len} bytes, got ${b.length}`);
}
function challengeHash(peerChallenge, authenticatorChallenge, userName) {
  check(peerChallenge, MSCHAPV2_CHALLENGE_LEN, "PeerChallenge");
  check(authenticatorChallenge, MSCHAPV2_CHALLENGE_LEN, "AuthenticatorChallenge");
  return sha1(concatBytes(peerChallenge, authenticatorChallenge, userName)).slice(0, 8);
}
function ntPasswordHash(password) {
  return md4(utf16le(password));
}
function hashNtPasswordHash(passwordHash) {
  check(passwordHash, 16, "PasswordHash");
  return md4(passwordHash);
}
function desEncrypt(clear, key7) {
  return desEncryptBlock(desKeyFrom56(key7), clear);
}
function challengeResponse(challenge, passwordHash) {
  check(challenge, 8, "Challenge");
  check(passwordHash, 16, "PasswordHash");
  const z = new Uint8Array(21);
  z.set(passwordHash);
  return concatBytes(
    desEncrypt(challenge, z.subarray(0, 7)),
    desEncrypt(challenge, z.subarray(7, 14)),
    desEncrypt(challenge, z.subarray(14, 21))
  );
}
function generateNtResponse(authenticatorChallenge, peerChallenge, userName, password) {
  const challenge = challengeHash(peerChallenge, authenticatorChallenge, userName);
  return challengeResponse(challenge, ntPasswordHash(password));
}
function generateAuthenticatorResponse(password, ntResponse, peerChallenge, authenticatorChallenge, userName) {
  check(ntResponse, MSCHAPV2_NT_RESPONSE_LEN, "NT-Response");
  const passwordHashHash = hashNtPasswordHash(ntPasswordHash(password));
  const first = sha1(concatBytes(passwordHashHash, ntResponse, AUTH_MAGIC1));
  const challenge = challengeHash(peerChallenge, authenticatorChallenge, userName);
  const digest2 = sha1(concatBytes(first, challenge, AUTH_MAGIC2));
  return `S=${toHex(digest2).toUpperCase()}`;
}
function checkAuthenticatorResponse(password, ntResponse, peerChallenge, authenticatorChallenge, userName, receivedResponse) {
  if (!/^S=[0-9A-Fa-f]{40}$/.test(receivedResponse)) return false;
  const expected = generateAuthenticatorResponse(
    password,
    ntResponse,
    peerChallenge,
    authenticatorChallenge,
    userName
  );
  return equalBytes(fromHex(expected.slice(2)), fromHex(receivedResponse.slice(2)));
}
function mschapUserName(identity) {
  const i = identity.indexOf(92);
  return i < 0 ? identity : identity.subarray(i + 1);
}
function getMasterKey(passwordHashHash, ntResponse) {
  check(passwordHashHash, 16, "PasswordHashHash");
  check(ntResponse, MSCHAPV2_NT_RESPONSE_LEN, "NT-Response");
  return sha1(concatBytes(passwordHashHash, ntResponse, MPPE_MAGIC1)).slice(0, 16);
}
function getAsymmetricStartKey(masterKey, isSend, isServer) {
  check(masterKey, 16, "MasterKey");
  const magic = isSend !== isServer ? MPPE_MAGIC2 : MPPE_MAGIC3;
  return sha1(concatBytes(masterKey, SHS_PAD1, magic, SHS_PAD2)).slice(0, 16);
}
function mschapv2Msk(passwordHashHash, ntResponse) {
  const master = getMasterKey(passwordHashHash, ntResponse);
  const send = getAsymmetricStartKey(master, true, false);
  const receive = getAsymmetricStartKey(master, false, false);
  return concatBytes(send, receive, new Uint8Array(32));
}
function utf16le(s) {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[2 * i] = c & 255;
    out[2 * i + 1] = c >>> 8;
  }
  return out;
}

// src/eap/packet.ts
var EapCode = { REQUEST: 1, RESPONSE: 2, SUCCESS: 3, FAILURE: 4 };
var EapType = {
  IDENTITY: 1,
  NOTIFICATION: 2,
  NAK: 3,
  MD5_CHALLENGE: 4,
  OTP: 5,
  GTC: 6,
  TLS: 13,
  LEAP: 17,
  SIM: 18,
  TTLS: 21,
  AKA: 23,
  PEAP: 25,
  MSCHAPV2: 26,
  FAST: 43,
  AKA_PRIME: 50,
  PWD: 52,
  TEAP: 55,
  EXPANDED: 254,
  EXPERIMENTAL: 255
};
var TYPE_NAMES = /* @__PURE__ */ new Map([
  [EapType.IDENTITY, "EAP-Identity"],
  [EapType.NOTIFICATION, "EAP-Notification"],
  [EapType.NAK, "EAP-Nak"],
  [EapType.MD5_CHALLENGE, "EAP-MD5"],
  [EapType.OTP, "EAP-OTP"],
  [EapType.GTC, "EAP-GTC"],
  [EapType.TLS, "EAP-TLS"],
  [EapType.LEAP, "EAP-LEAP"],
  [EapType.SIM, "EAP-SIM"],
  [EapType.TTLS, "EAP-TTLS"],
  [EapType.AKA, "EAP-AKA"],
  [EapType.PEAP, "EAP-PEAP"],
  [EapType.MSCHAPV2, "EAP-MSCHAPv2"],
  [EapType.FAST, "EAP-FAST"],
  [EapType.AKA_PRIME, "EAP-AKA'"],
  [EapType.PWD, "EAP-pwd"],
  [EapType.TEAP, "EAP-TEAP"],
  [EapType.EXPANDED, "EAP-Expanded"],
  [EapType.EXPERIMENTAL, "EAP-Experimental"]
]);
function eapTypeName(type) {
  return TYPE_NAMES.get(type) ?? `EAP type ${type}`;
}
var EAP_HEADER_LEN = 4;
function decodeEap(buf) {
  const r = new Reader(buf);
  const code = r.u8("EAP Code");
  const identifier = r.u8("EAP Identifier");
  const length = r.u16("EAP Length");
  if (length < EAP_HEADER_LEN) {
    throw new ParseError("EAP packet", 2, `Length ${length} is less than 4`);
  }
  if (length > buf.length) {
    throw new ParseError(
      "EAP packet",
      2,
      `Length ${length} exceeds the ${buf.length} octets received`
    );
  }
  switch (code) {
    case EapCode.REQUEST:
    case EapCode.RESPONSE: {
      const body = new Reader(buf, EAP_HEADER_LEN, length);
      if (body.remaining < 1) {
        throw new ParseError(
          "EAP packet",
          EAP_HEADER_LEN,
          `${code === EapCode.REQUEST ? "Request" : "Response"} without a Type (Length ${length})`
        );
      }
      const type = body.u8("EAP Type");
      return { code, identifier, type, data: body.copy(body.remaining, "EAP Type-Data") };
    }
    case EapCode.SUCCESS:
    case EapCode.FAILURE:
      return { code, identifier };
    default:
      throw new ParseError("EAP packet", 0, `unknown Code ${code}`);
  }
}
function encodeEap(p) {
  const w = new Writer(EAP_HEADER_LEN + ("data" in p ? 1 + p.data.length : 0));
  w.u8(p.code).u8(p.identifier).u16(0);
  if ("data" in p) w.u8(p.type).bytes(p.data);
  w.patchU16(2, w.pos);
  return w.finish();
}

// src/eap/methods.ts
function eapError(message) {
  return new VpnError("ERR_EAP_FAILED", message);
}
function fail(message) {
  return { kind: "fail", error: eapError(message) };
}
function printable2(bytes, max = 200) {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes).replace(/\0+$/, "");
  const clean2 = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  return clean2.length > max ? `${clean2.slice(0, max)}…` : clean2;
}
var Md5ChallengeMethod = class {
  type = EapType.MD5_CHALLENGE;
  name = "EAP-MD5";
  password;
  answered = false;
  constructor(password) {
    this.password = password;
  }
  process(identifier, data) {
    const size = data[0];
    if (size === void 0 || size === 0 || 1 + size > data.length) {
      return fail(
        `malformed EAP-MD5 Request: Value-Size ${size ?? "missing"} with ${data.length} octets of Type-Data`
      );
    }
    const challenge = data.subarray(1, 1 + size);
    const hash = createHash2("md5").update(Uint8Array.of(identifier)).update(this.password).update(challenge).digest();
    this.answered = true;
    return { kind: "respond", data: concatBytes(Uint8Array.of(16), new Uint8Array(hash)) };
  }
  finished() {
    return this.answered;
  }
  unfinishedReason() {
    return "the gateway sent EAP-Success before we answered its EAP-MD5 challenge";
  }
  mutual() {
    return false;
  }
  msk() {
    return void 0;
  }
  failureReason() {
    return void 0;
  }
};
var GtcMethod = class {
  type = EapType.GTC;
  name = "EAP-GTC";
  password;
  answered = false;
  constructor(password) {
    this.password = password;
  }
  process() {
    this.answered = true;
    return { kind: "respond", data: this.password.slice() };
  }
  finished() {
    return this.answered;
  }
  unfinishedReason() {
    return "the gateway sent EAP-Success before we answered its EAP-GTC request";
  }
  mutual() {
    return false;
  }
  msk() {
    return void 0;
  }
  failureReason() {
    return void 0;
  }
};
var MschapOpCode = { CHALLENGE: 1, RESPONSE: 2, SUCCESS: 3, FAILURE: 4 };
var RESPONSE_VALUE_SIZE = 49;
var MS_HEADER_LEN = 4;
var MSCHAP_ERRORS = /* @__PURE__ */ new Map([
  [646, "logon is not allowed at this time (restricted logon hours)"],
  [647, "the account is disabled"],
  [648, "the password has expired"],
  [649, "the account has no dial-in permission"],
  [691, "wrong user name or password"],
  [709, "changing the password failed"]
]);
function parseMschapFailure(text) {
  const e = /(?:^|\s)E=(\d+)/.exec(text);
  const r = /(?:^|\s)R=([01])/.exec(text);
  const m = /(?:^|\s)M=(.*)$/s.exec(text);
  return {
    code: e ? Number(e[1]) : void 0,
    retry: r?.[1] === "1",
    message: m?.[1]
  };
}
function describeMschapFailure(f) {
  const what = f.code === void 0 ? "the gateway reported a failure without an error code" : `${MSCHAP_ERRORS.get(f.code) ?? "error"} (E=${f.code})`;
  return f.message ? `${what}; the gateway says "${f.message}"` : what;
}
var MschapV2Method = class {
  type = EapType.MSCHAPV2;
  name = "EAP-MSCHAPv2";
  identity;
  password;
  random;
  state = "challenge";
  authenticatorChallenge;
  peerChallenge;
  ntResponse;
  key;
  failure;
  constructor(creds) {
    this.identity = creds.identity;
    this.password = new TextDecoder("utf-8", { fatal: true }).decode(creds.password);
    this.random = creds.random;
  }
  process(_identifier, data) {
    if (data.length < 1) return fail("malformed EAP-MSCHAPv2 Request: no OpCode");
    const opCode = data[0];
    switch (this.state) {
      case "challenge":
        if (opCode === MschapOpCode.CHALLENGE) return this.onChallenge(data);
        break;
      case "result":
        if (opCode === MschapOpCode.SUCCESS) return this.onSuccess(data);
        if (opCode === MschapOpCode.FAILURE) return this.onFailure(data);
        break;
      case "done":
      case "failed":
        break;
    }
    if (this.state === "failed" && this.failure) {
      return fail(`EAP-MSCHAPv2 authentication failed: ${this.failure}`);
    }
    return fail(`unexpected EAP-MSCHAPv2 OpCode ${opCode} (${this.expecting()})`);
  }
  expecting() {
    switch (this.state) {
      case "challenge":
        return "expected a Challenge";
      case "result":
        return "expected Success or Failure";
      case "done":
        return "the method had already succeeded";
      case "failed":
        return "the method had already failed";
    }
  }
  /** draft-kamath §2.1 Challenge Request → §2.2 Response. */
  onChallenge(data) {
    if (data.length < MS_HEADER_LEN + 1 + MSCHAPV2_CHALLENGE_LEN) {
      return fail(`malformed EAP-MSCHAPv2 Challenge: ${data.length} octets of Type-Data`);
    }
    const msId = data[1];
    const valueSize = data[MS_HEADER_LEN];
    if (valueSize !== MSCHAPV2_CHALLENGE_LEN) {
      return fail(`malformed EAP-MSCHAPv2 Challenge: Value-Size ${valueSize}, expected 16`);
    }
    const start = MS_HEADER_LEN + 1;
    this.authenticatorChallenge = data.slice(start, start + MSCHAPV2_CHALLENGE_LEN);
    this.peerChallenge = this.random.bytes(MSCHAPV2_CHALLENGE_LEN);
    if (this.peerChallenge.length !== MSCHAPV2_CHALLENGE_LEN) {
      throw new RangeError("Random returned the wrong number of bytes");
    }
    this.ntResponse = generateNtResponse(
      this.authenticatorChallenge,
      this.peerChallenge,
      mschapUserName(this.identity),
      this.password
    );
    this.key = mschapv2Msk(hashNtPasswordHash(ntPasswordHash(this.password)), this.ntResponse);
    const out = new Uint8Array(MS_HEADER_LEN + 1 + RESPONSE_VALUE_SIZE + this.identity.length);
    const msLength = out.length;
    if (msLength > 65535 - 5) return fail("our EAP identity is too long for EAP-MSCHAPv2");
    out[0] = MschapOpCode.RESPONSE;
    out[1] = msId;
    out[2] = msLength >>> 8;
    out[3] = msLength & 255;
    out[4] = RESPONSE_VALUE_SIZE;
    out.set(this.peerChallenge, 5);
    out.set(this.ntResponse, 29);
    out[53] = 0;
    out.set(this.identity, 54);
    this.state = "result";
    return { kind: "respond", data: out };
  }
  /** draft-kamath §2.3 Success Request → §2.4 Success Response, after RFC 2759 §8.8. */
  onSuccess(data) {
    const text = new TextDecoder("latin1").decode(data.subarray(MS_HEADER_LEN)).replace(/\0+$/, "");
    const auth = /^S=([0-9A-Fa-f]{40})(?:\s|$)/.exec(text);
    const verified = auth !== null && checkAuthenticatorResponse(
      this.password,
      this.ntResponse,
      this.peerChallenge,
      this.authenticatorChallenge,
      mschapUserName(this.identity),
      `S=${auth[1]}`
    );
    if (!verified) {
      this.state = "failed";
      this.wipeKey();
      return fail(
        auth === null ? 'EAP-MSCHAPv2 Success Request without a valid authenticator response ("S=" and 40 hex digits): the gateway did not prove it knows the password' : `the gateway's EAP-MSCHAPv2 authenticator response ("S=") does not verify: it does not know our password (or someone is in between)`
      );
    }
    this.state = "done";
    return { kind: "respond", data: Uint8Array.of(MschapOpCode.SUCCESS) };
  }
  /** draft-kamath §2.5 Failure Request → §2.6 Failure Response. */
  onFailure(data) {
    const text = printable2(data.subarray(MS_HEADER_LEN), 400);
    this.failure = describeMschapFailure(parseMschapFailure(text));
    this.state = "failed";
    this.wipeKey();
    return { kind: "respond", data: Uint8Array.of(MschapOpCode.FAILURE) };
  }
  wipeKey() {
    wipe(this.key);
    this.key = void 0;
  }
  finished() {
    return this.state === "done";
  }
  unfinishedReason() {
    return this.state === "failed" && this.failure ? `the gateway sent EAP-Success after an EAP-MSCHAPv2 Failure (${this.failure})` : "the gateway sent EAP-Success before EAP-MSCHAPv2 finished: it claimed success without proving it knows the password";
  }
  mutual() {
    return this.state === "done";
  }
  msk() {
    return this.state === "done" && this.key ? this.key.slice() : void 0;
  }
  failureReason() {
    return this.failure;
  }
};

// src/eap/peer.ts
var METHOD_TYPES = {
  mschapv2: EapType.MSCHAPV2,
  md5: EapType.MD5_CHALLENGE,
  gtc: EapType.GTC,
  tls: EapType.TLS
};
var PASSWORD_TYPES = /* @__PURE__ */ new Set([
  EapType.MSCHAPV2,
  EapType.MD5_CHALLENGE,
  EapType.GTC
]);
var SAFE_BEFORE_GATEWAY_AUTH = /* @__PURE__ */ new Set([EapType.TLS]);
function passwordRisk(type) {
  return type === EapType.GTC ? "would send it our password in clear" : "would give it a response from which our password can be cracked offline";
}
var MAX_NAKS = 8;
function createEapPeer(opts2) {
  return new Peer(opts2);
}
var Peer = class {
  identity;
  password;
  random;
  asyncByType = /* @__PURE__ */ new Map();
  /** Method Types we accept, in our order of preference. */
  acceptable = [];
  /** Types named in `methods` that lack what they need (a password, an async implementation). */
  unusable = [];
  active;
  /** The last Request we answered (whole packet up to Length) and our answer to it. */
  lastRequest;
  lastStep;
  outcome;
  naked = /* @__PURE__ */ new Set();
  offered = [];
  notification;
  /** The gateway proved its identity with AUTH before EAP; otherwise only safe methods run. */
  gatewayProved = false;
  constructor(opts2) {
    this.identity = opts2.identity.slice();
    this.password = opts2.password?.slice();
    this.random = opts2.random;
    for (const m of opts2.asyncMethods ?? []) this.asyncByType.set(m.type, m);
    for (const name of opts2.methods) {
      const type = METHOD_TYPES[name];
      if (this.acceptable.includes(type) || this.unusable.includes(type)) continue;
      const usable = this.asyncByType.has(type) ? true : PASSWORD_TYPES.has(type) && this.password !== void 0;
      (usable ? this.acceptable : this.unusable).push(type);
    }
  }
  handle(packet) {
    try {
      return this.step(packet);
    } catch (e) {
      return this.finish(this.failure(toEapError(e)));
    }
  }
  msk() {
    if (this.outcome?.kind !== "success" || !this.active) return void 0;
    return this.active.method.msk();
  }
  mutual() {
    if (this.outcome?.kind !== "success" || !this.active) return false;
    return this.active.kind === "sync" ? this.active.method.mutual() : this.active.method.done();
  }
  methodName() {
    return this.active?.method.name ?? "EAP";
  }
  gatewayAuthenticated() {
    this.gatewayProved = true;
  }
  // ---------------------------------------------------------------------------------------------
  step(packet) {
    const p = decodeEap(packet);
    if (this.outcome) {
      if (this.outcome.kind === "success" && p.code === EapCode.SUCCESS) return this.outcome;
      if (this.outcome.kind === "failure") return this.outcome;
      return this.finish(
        this.failure(eapError2(`the gateway sent an EAP packet (Code ${p.code}) after EAP-Success`))
      );
    }
    switch (p.code) {
      case EapCode.SUCCESS:
        return this.finish(this.onSuccess());
      case EapCode.FAILURE:
        return this.finish(this.failure(eapError2(this.failureMessage())));
      case EapCode.RESPONSE:
        return this.finish(
          this.failure(
            eapError2("the gateway sent an EAP Response; an authenticator sends only Requests")
          )
        );
      case EapCode.REQUEST:
        break;
    }
    const canonical = encodeEap(p);
    if (this.lastRequest && this.lastStep && equalBytes(canonical, this.lastRequest)) {
      return this.lastStep;
    }
    const step = this.onRequest(p, canonical);
    if (step.kind === "failure") return this.finish(step);
    this.lastRequest = canonical;
    this.lastStep = step;
    return step;
  }
  onRequest(p, packet) {
    switch (p.type) {
      case EapType.IDENTITY:
        if (this.active) {
          return this.failure(
            eapError2(
              `the gateway asked for our identity again in the middle of ${this.methodName()}`
            )
          );
        }
        return this.respond(p.identifier, EapType.IDENTITY, this.identity);
      case EapType.NOTIFICATION:
        if (p.data.length > 0) this.notification = printable2(p.data);
        return this.respond(p.identifier, EapType.NOTIFICATION, new Uint8Array(0));
      case EapType.NAK:
        return this.failure(
          eapError2(
            "the gateway sent a Nak Request (Nak is valid only in Responses, RFC 3748 §5.3)"
          )
        );
      default:
        return this.onMethodRequest(p, packet);
    }
  }
  onMethodRequest(p, packet) {
    if (this.active) {
      if (p.type !== this.active.method.type) {
        return this.failure(
          eapError2(
            `the gateway switched from ${this.methodName()} to ${eapTypeName(p.type)} in the middle of the method (RFC 3748 §2.1)`
          )
        );
      }
    } else {
      if (!this.acceptable.includes(p.type) || !this.allowedNow(p.type)) return this.nak(p);
      const active2 = this.start(p.type);
      if (active2 instanceof VpnError) return this.failure(active2);
      this.active = active2;
    }
    const active = this.active;
    if (active.kind === "async") {
      active.method.request(packet);
      return { kind: "pending" };
    }
    const s = active.method.process(p.identifier, p.data);
    if (s.kind === "fail") return this.failure(s.error);
    return this.respond(p.identifier, p.type, s.data);
  }
  start(type) {
    const asyncMethod = this.asyncByType.get(type);
    if (asyncMethod) return { kind: "async", method: asyncMethod };
    const password = this.password;
    const creds = { identity: this.identity, password, random: this.random };
    switch (type) {
      case EapType.MD5_CHALLENGE:
        return { kind: "sync", method: new Md5ChallengeMethod(password) };
      case EapType.GTC:
        return { kind: "sync", method: new GtcMethod(password) };
      case EapType.MSCHAPV2:
        try {
          return { kind: "sync", method: new MschapV2Method(creds) };
        } catch {
          return eapError2("EAP-MSCHAPv2 needs a UTF-8 password; the one given is not valid UTF-8");
        }
      default:
        return eapError2(`${eapTypeName(type)} is not implemented`);
    }
  }
  /**
   * RFC 3748 §5.3.1 (legacy Nak) and §5.3.2 (Expanded Nak, only in reply to an Expanded Request):
   * the methods we would accept instead, in our order of preference.
   */
  nak(p) {
    this.offered.push(p.type);
    const offeredName = eapTypeName(p.type);
    const proposal = this.proposal();
    if (this.naked.has(p.type)) {
      return this.failure(
        eapError2(
          `the gateway asked again for ${offeredName}, which we refused; it accepts none of the methods we proposed (${this.ourMethods()})`
        )
      );
    }
    if (this.acceptable.length === 0) {
      return this.failure(eapError2(`the gateway asks for ${offeredName}, and ${this.noMethods()}`));
    }
    if (proposal.length === 0) return this.failure(this.unauthenticatedRefusal(p.type));
    if (this.naked.size >= MAX_NAKS) {
      return this.failure(
        eapError2(
          `the gateway offered ${this.offeredMethods()} but none of the methods we proposed (${this.ourMethods()})`
        )
      );
    }
    this.naked.add(p.type);
    if (p.type === EapType.EXPANDED) {
      const w = new Writer(7 + 8 * proposal.length);
      w.u8(0).u8(0).u8(0).u32(EapType.NAK);
      for (const t of proposal) w.u8(EapType.EXPANDED).u8(0).u8(0).u8(0).u32(t);
      return this.respond(p.identifier, EapType.EXPANDED, w.finish());
    }
    return this.respond(p.identifier, EapType.NAK, Uint8Array.from(proposal));
  }
  /** Whether a method may run now: any of ours once the gateway proved itself, else a safe one. */
  allowedNow(type) {
    return this.gatewayProved || SAFE_BEFORE_GATEWAY_AUTH.has(type);
  }
  /** The methods we propose in a Nak: ours that may run now, in our order of preference. */
  proposal() {
    return this.acceptable.filter((t) => this.allowedNow(t));
  }
  /**
   * The gateway has not proved its identity and none of our methods that could run before it
   * does (EAP-TLS) is enabled: end the session without answering (RFC 5998 §4).
   */
  unauthenticatedRefusal(type) {
    const name = eapTypeName(type);
    const why = this.acceptable.includes(type) ? `${name}, which ${passwordRisk(type)}; refused without answering` : `${name}, which we do not use; none of our methods (${this.acceptable.map(eapTypeName).join(", ")}) may run with it`;
    return new VpnError(
      "ERR_IKE_AUTH_FAILED",
      `the gateway has not proved its identity (no AUTH payload: EAP-only authentication, RFC 5998) and asks for ${why}. Before a gateway authenticates, only EAP-TLS may run: enable it (--eap tls with a client certificate), or connect to a gateway that authenticates with a certificate`
    );
  }
  /** EAP-Success (RFC 3748 §4.2): believed only when the method finished on our side. */
  onSuccess() {
    const active = this.active;
    if (!active) {
      return this.failure(
        eapError2(
          "the gateway sent EAP-Success before any authentication method ran: it did not check our credentials"
        )
      );
    }
    if (active.kind === "async") {
      if (active.method.done()) return { kind: "success" };
      return this.failure(
        eapError2(
          `the gateway sent EAP-Success before ${active.method.name} finished: it did not prove its identity`
        )
      );
    }
    if (active.method.finished()) return { kind: "success" };
    return this.failure(eapError2(active.method.unfinishedReason()));
  }
  /** The message for EAP-Failure (RFC 3748 §4.2), naming the method and what the gateway said. */
  failureMessage() {
    let msg;
    if (this.active) {
      const name = this.methodName();
      const reason = this.active.kind === "sync" ? this.active.method.failureReason() : void 0;
      msg = reason ? `${name} authentication failed: ${reason}` : `the gateway rejected our ${name} authentication (EAP-Failure): wrong user name or password, or the method failed`;
    } else if (this.naked.size > 0) {
      msg = `no common EAP method: the gateway offered ${this.offeredMethods()}, we proposed ${this.ourMethods()}, and it answered with EAP-Failure`;
    } else {
      msg = "the gateway sent EAP-Failure before any EAP method started (unknown identity?)";
    }
    return this.notification ? `${msg} (gateway notification: "${this.notification}")` : msg;
  }
  respond(identifier, type, data) {
    return {
      kind: "respond",
      packet: encodeEap({ code: EapCode.RESPONSE, identifier, type, data })
    };
  }
  failure(error) {
    return { kind: "failure", error };
  }
  /** Records a final outcome: the conversation is over after Success or any failure. */
  finish(step) {
    if (step.kind === "success" || step.kind === "failure") this.outcome = step;
    return step;
  }
  ourMethods() {
    return this.proposal().map(eapTypeName).join(", ");
  }
  offeredMethods() {
    return [...new Set(this.offered)].map(eapTypeName).join(", ");
  }
  noMethods() {
    if (this.unusable.length === 0) return "no EAP method is enabled";
    const why = this.unusable.map(
      (t) => PASSWORD_TYPES.has(t) ? `${eapTypeName(t)} needs a password` : `${eapTypeName(t)} is not set up`
    );
    return `none of our EAP methods is usable (${why.join("; ")})`;
  }
};
function eapError2(message) {
  return new VpnError("ERR_EAP_FAILED", message);
}
function toEapError(e) {
  if (e instanceof ParseError) {
    return new VpnError("ERR_EAP_FAILED", `the gateway sent a ${e.message}`, { cause: e });
  }
  if (e instanceof VpnError && e.code === "ERR_EAP_FAILED") return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new VpnError("ERR_EAP_FAILED", `EAP failed: ${detail}`, { cause: e });
}

// src/pki/names.ts
var OID_COMMON_NAME = "2.5.4.3";
function parseName(der) {
  const name = expectTag(parseDer(der, "Name"), Tag.SEQUENCE, "Name");
  return children(name, "Name").map((rdn) => {
    expectTag(rdn, Tag.SET, "RDN");
    const atvs = children(rdn, "RDN");
    if (atvs.length === 0) throw new ParseError("RDN", 0, "empty RDN");
    return atvs.map((atv) => {
      const parts = children(expectTag(atv, Tag.SEQUENCE, "attribute"), "attribute");
      if (parts.length !== 2) throw new ParseError("attribute", 0, "expected type and value");
      const oid2 = decodeOid(expectTag(parts[0], Tag.OID, "attribute type").value);
      const v = parts[1];
      return {
        oid: oid2,
        tag: v.tag,
        value: v.value,
        raw: v.raw,
        text: decodeDirectoryString(v.tag, v.value)
      };
    });
  });
}
var STRING_TAGS = {
  UTF8: 12,
  NUMERIC: 18,
  PRINTABLE: 19,
  TELETEX: 20,
  IA5: 22,
  VISIBLE: 26,
  UNIVERSAL: 28,
  BMP: 30
};
function decodeDirectoryString(tag, v) {
  switch (tag) {
    case STRING_TAGS.UTF8:
      try {
        return new TextDecoder("utf-8", { fatal: true }).decode(v);
      } catch {
        return void 0;
      }
    case STRING_TAGS.NUMERIC:
    case STRING_TAGS.PRINTABLE:
    case STRING_TAGS.IA5:
    case STRING_TAGS.VISIBLE:
    case STRING_TAGS.TELETEX:
      return latin1(v);
    case STRING_TAGS.BMP: {
      if (v.length % 2 !== 0) return void 0;
      let s = "";
      for (let i = 0; i < v.length; i += 2) s += String.fromCharCode(v[i] << 8 | v[i + 1]);
      return s;
    }
    case STRING_TAGS.UNIVERSAL: {
      if (v.length % 4 !== 0) return void 0;
      let s = "";
      for (let i = 0; i < v.length; i += 4) {
        const cp = (v[i] << 24 | v[i + 1] << 16 | v[i + 2] << 8 | v[i + 3]) >>> 0;
        if (cp > 1114111 || cp >= 55296 && cp <= 57343) return void 0;
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      return void 0;
  }
}
function latin1(v) {
  let s = "";
  for (const b of v) s += String.fromCharCode(b);
  return s;
}
function canonicalText(s) {
  return s.normalize("NFKC").toLowerCase().trim().replace(/\s+/gu, " ");
}
function canonicalAttribute(a) {
  const v = a.text !== void 0 ? `s:${canonicalText(a.text)}` : `b:${hex(a.raw)}`;
  return `${a.oid}=${v}`;
}
function hex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
function sameDistinguishedName(a, b) {
  if (bytesEqual(a, b)) return true;
  let ra;
  let rb;
  try {
    ra = parseName(a);
    rb = parseName(b);
  } catch {
    return false;
  }
  if (ra.length !== rb.length) return false;
  for (let i = 0; i < ra.length; i++) {
    const x = ra[i].map(canonicalAttribute).sort();
    const y = rb[i].map(canonicalAttribute).sort();
    if (x.length !== y.length || x.some((v, j) => v !== y[j])) return false;
  }
  return true;
}
function commonNames(nameDer) {
  try {
    return parseName(nameDer).flat().filter((a) => a.oid === OID_COMMON_NAME && a.text !== void 0).map((a) => a.text);
  } catch {
    return [];
  }
}
function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function asciiLower(s) {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
function normalizeDns(s) {
  let n = asciiLower(s);
  if (n.endsWith(".")) n = n.slice(0, -1);
  return n === "" ? void 0 : n;
}
function matchesDnsName(pattern, name) {
  const p = normalizeDns(pattern);
  const n = normalizeDns(name);
  if (p === void 0 || n === void 0) return false;
  if (n.includes("*")) return false;
  if (!p.includes("*")) return p === n;
  const pl = p.split(".");
  const nl2 = n.split(".");
  if (pl[0] !== "*" || pl.slice(1).some((l) => l.includes("*") || l === "")) return false;
  if (pl.length < 3) return false;
  if (nl2.length !== pl.length || nl2[0] === "") return false;
  return pl.slice(1).join(".") === nl2.slice(1).join(".");
}
function ipLiteral(s) {
  let h = s.trim();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (!/^[0-9.]+$/.test(h) && !h.includes(":")) return void 0;
  try {
    return parseIpAddress(h);
  } catch {
    return void 0;
  }
}
function matchesHost(cert, host) {
  const sans = cert.subjectAltNames;
  const cns = commonNames(cert.subjectDer);
  const cn = cns[cns.length - 1];
  const ip = ipLiteral(host);
  if (ip) {
    if (sans.ipBytes.length > 0) return sans.ipBytes.some((a) => bytesEqual(a, ip));
    const cnIp = cn === void 0 ? void 0 : ipLiteral(cn);
    return cnIp !== void 0 && bytesEqual(cnIp, ip);
  }
  const name = host.trim();
  if (name === "") return false;
  if (sans.dns.length > 0) return sans.dns.some((p) => matchesDnsName(p, name));
  return cn !== void 0 && ipLiteral(cn) === void 0 && matchesDnsName(cn, name);
}

// src/pki/x509.ts
import { X509Certificate, createHash as createHash3, createPublicKey as createPublicKey2 } from "node:crypto";
var KEY_USAGE_BITS = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly"
];
function keyUsageNames(ku) {
  return KEY_USAGE_BITS.filter((n) => ku[n]);
}
var ExtOid = {
  SUBJECT_KEY_ID: "2.5.29.14",
  KEY_USAGE: "2.5.29.15",
  SUBJECT_ALT_NAME: "2.5.29.17",
  ISSUER_ALT_NAME: "2.5.29.18",
  BASIC_CONSTRAINTS: "2.5.29.19",
  NAME_CONSTRAINTS: "2.5.29.30",
  CRL_DISTRIBUTION_POINTS: "2.5.29.31",
  CERTIFICATE_POLICIES: "2.5.29.32",
  AUTHORITY_KEY_ID: "2.5.29.35",
  EXT_KEY_USAGE: "2.5.29.37",
  AUTHORITY_INFO_ACCESS: "1.3.6.1.5.5.7.1.1"
};
var PROCESSED_EXTENSIONS = /* @__PURE__ */ new Set([
  ExtOid.SUBJECT_KEY_ID,
  ExtOid.KEY_USAGE,
  ExtOid.SUBJECT_ALT_NAME,
  ExtOid.BASIC_CONSTRAINTS,
  ExtOid.AUTHORITY_KEY_ID,
  ExtOid.EXT_KEY_USAGE
]);
var EkuOid = {
  SERVER_AUTH: "1.3.6.1.5.5.7.3.1",
  CLIENT_AUTH: "1.3.6.1.5.5.7.3.2",
  CODE_SIGNING: "1.3.6.1.5.5.7.3.3",
  EMAIL_PROTECTION: "1.3.6.1.5.5.7.3.4",
  /** id-kp-ipsecIKE (RFC 4945 §5.1.3.12). */
  IPSEC_IKE: "1.3.6.1.5.5.7.3.17",
  /** iKEIntermediate (1.3.6.1.5.5.8.2.2), what Windows and macOS clients look for on a gateway. */
  IKE_INTERMEDIATE: "1.3.6.1.5.5.8.2.2",
  ANY: "2.5.29.37.0"
};
var EKU_NAMES = /* @__PURE__ */ new Map([
  [EkuOid.SERVER_AUTH, "serverAuth"],
  [EkuOid.CLIENT_AUTH, "clientAuth"],
  [EkuOid.CODE_SIGNING, "codeSigning"],
  [EkuOid.EMAIL_PROTECTION, "emailProtection"],
  [EkuOid.IPSEC_IKE, "ipsecIKE"],
  [EkuOid.IKE_INTERMEDIATE, "ikeIntermediate"],
  [EkuOid.ANY, "anyExtendedKeyUsage"]
]);
function ekuName(oid2) {
  return EKU_NAMES.get(oid2) ?? oid2;
}
var KEY_ALGORITHMS = {
  "1.2.840.113549.1.1.1": "rsa",
  "1.2.840.113549.1.1.10": "rsa-pss",
  "1.2.840.10045.2.1": "ec",
  "1.3.101.112": "ed25519",
  "1.3.101.113": "ed448"
};
var CURVES = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521",
  "1.3.132.0.10": "secp256k1",
  "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
  "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
  "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1"
};
var SIGNATURE_ALGORITHM_NAMES = {
  "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
  "1.2.840.113549.1.1.3": "md4WithRSAEncryption",
  "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.113549.1.1.10": "RSASSA-PSS",
  "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
  "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
  "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
  "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
  "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
  "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
  "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448"
};
var WEAK_SIGNATURE_ALGORITHMS = /* @__PURE__ */ new Set([
  "1.2.840.113549.1.1.2",
  "1.2.840.113549.1.1.3",
  "1.2.840.113549.1.1.4"
]);
var Certificate = class _Certificate {
  /** The whole certificate, DER. */
  der;
  /** The signed part (TBSCertificate), DER. */
  tbsDer;
  /** 1, 2 or 3. */
  version;
  /** Serial number, hex of the INTEGER's value bytes. */
  serialNumber;
  /** Subject Name, DER (the data of an ID_DER_ASN1_DN identity). */
  subjectDer;
  /** Issuer Name, DER. */
  issuerDer;
  /** "C=CH, O=Example, CN=gw.example.com" (strongSwan's notation). */
  subject;
  issuer;
  /** Validity, ms since the epoch (RFC 5280 §4.1.2.5). */
  notBefore;
  notAfter;
  subjectAltNames;
  /** undefined when the certificate has no keyUsage extension. */
  keyUsage;
  /** Extended key usage OIDs; undefined when there is no such extension. */
  extendedKeyUsage;
  /** undefined when there is no basicConstraints extension. */
  basicConstraints;
  subjectKeyId;
  authorityKeyId;
  /** Every extension, in order. */
  extensions;
  /** Critical extensions we do not process (RFC 5280 §4.2): such a certificate must be refused. */
  unhandledCriticalExtensions;
  /** The SubjectPublicKeyInfo, DER. */
  spkiDer;
  publicKey;
  keyType;
  /** 'P-256', 'P-384', 'P-521' (or another curve's name or OID) for EC keys, else undefined. */
  curve;
  /** Signature algorithm OID (outer signatureAlgorithm, equal to the TBS one). */
  signatureAlgorithm;
  /** Its name (e.g. "sha256WithRSAEncryption"), or the OID. */
  signatureAlgorithmName;
  /** node:crypto's view of the same certificate (used for signature checks). */
  x509;
  keyId;
  /** The subjectPublicKey BIT STRING TLV. */
  keyBits;
  constructor(der) {
    this.der = der;
    const cert = expectTag(parseDer(der, "certificate"), Tag.SEQUENCE, "certificate");
    const top = children(cert, "certificate");
    if (top.length !== 3) throw new ParseError("certificate", 0, "expected 3 elements");
    const tbs = expectTag(top[0], Tag.SEQUENCE, "TBSCertificate");
    const outerAlg = expectTag(top[1], Tag.SEQUENCE, "signatureAlgorithm");
    expectTag(top[2], Tag.BIT_STRING, "signatureValue");
    this.tbsDer = tbs.raw;
    const f = children(tbs, "TBSCertificate");
    let i = 0;
    this.version = 1;
    if (f[i]?.tag === 160) {
      const [v, ...rest] = children(f[i], "version");
      if (rest.length > 0) throw new ParseError("version", 0, "trailing data");
      const n = expectTag(v, Tag.INTEGER, "version").value;
      if (n.length !== 1 || n[0] > 2) throw new ParseError("version", 0, "not v1, v2 or v3");
      this.version = n[0] + 1;
      i++;
    }
    const serial = expectTag(f[i++], Tag.INTEGER, "serialNumber");
    if (serial.value.length === 0) throw new ParseError("serialNumber", 0, "empty");
    this.serialNumber = hex2(serial.value);
    const innerAlg = expectTag(f[i++], Tag.SEQUENCE, "signature");
    if (!bytesEqual2(innerAlg.raw, outerAlg.raw))
      throw new VpnError("ERR_CERT", "certificate signature algorithm differs from the signed one");
    this.signatureAlgorithm = algorithmOid(outerAlg, "signatureAlgorithm");
    this.signatureAlgorithmName = SIGNATURE_ALGORITHM_NAMES[this.signatureAlgorithm] ?? this.signatureAlgorithm;
    this.issuerDer = expectTag(f[i++], Tag.SEQUENCE, "issuer").raw;
    const validity = children(expectTag(f[i++], Tag.SEQUENCE, "validity"), "validity");
    if (validity.length !== 2) throw new ParseError("validity", 0, "expected two times");
    this.notBefore = parseTime(validity[0]);
    this.notAfter = parseTime(validity[1]);
    this.subjectDer = expectTag(f[i++], Tag.SEQUENCE, "subject").raw;
    parseName(this.issuerDer);
    parseName(this.subjectDer);
    this.subject = formatDn(this.subjectDer);
    this.issuer = formatDn(this.issuerDer);
    const spki = expectTag(f[i++], Tag.SEQUENCE, "subjectPublicKeyInfo");
    this.spkiDer = spki.raw;
    const [keyAlg, keyBits, ...more] = children(spki, "subjectPublicKeyInfo");
    if (more.length > 0) throw new ParseError("subjectPublicKeyInfo", 0, "trailing data");
    this.keyBits = expectTag(keyBits, Tag.BIT_STRING, "subjectPublicKey").raw;
    const algParts = children(expectTag(keyAlg, Tag.SEQUENCE, "algorithm"), "algorithm");
    const keyOid = decodeOid(expectTag(algParts[0], Tag.OID, "algorithm").value);
    const keyType = KEY_ALGORITHMS[keyOid];
    if (keyType === void 0)
      throw new VpnError("ERR_CERT", `unsupported public key algorithm ${keyOid}`);
    this.keyType = keyType;
    this.curve = void 0;
    if (keyType === "ec") {
      const p = algParts[1];
      if (p?.tag !== Tag.OID) throw new VpnError("ERR_CERT", "EC key without a named curve");
      const c = decodeOid(p.value);
      this.curve = CURVES[c] ?? c;
    }
    if (f[i]?.tag === 129) i++;
    if (f[i]?.tag === 130) i++;
    const extensions = [];
    if (f[i]?.tag === 163) {
      if (this.version !== 3)
        throw new ParseError("extensions", 0, `in a v${this.version} certificate`);
      const [exts, ...rest] = children(f[i], "extensions");
      if (rest.length > 0) throw new ParseError("extensions", 0, "trailing data");
      const list2 = children(expectTag(exts, Tag.SEQUENCE, "extensions"), "extensions");
      if (list2.length === 0) throw new ParseError("extensions", 0, "empty");
      for (const e of list2) extensions.push(parseExtension(e));
      i++;
    }
    if (i !== f.length) throw new ParseError("TBSCertificate", 0, "unexpected trailing fields");
    this.extensions = extensions;
    const seen = /* @__PURE__ */ new Set();
    for (const e of extensions) {
      if (seen.has(e.oid)) throw new ParseError("extensions", 0, `duplicate extension ${e.oid}`);
      seen.add(e.oid);
    }
    const ext = (o) => extensions.find((e) => e.oid === o)?.value;
    const san = ext(ExtOid.SUBJECT_ALT_NAME);
    this.subjectAltNames = san ? parseSubjectAltNames(san) : emptySans();
    const ku = ext(ExtOid.KEY_USAGE);
    this.keyUsage = ku ? parseKeyUsage(ku) : void 0;
    const eku = ext(ExtOid.EXT_KEY_USAGE);
    this.extendedKeyUsage = eku ? parseExtKeyUsage(eku) : void 0;
    const bc = ext(ExtOid.BASIC_CONSTRAINTS);
    this.basicConstraints = bc ? parseBasicConstraints(bc) : void 0;
    const ski = ext(ExtOid.SUBJECT_KEY_ID);
    this.subjectKeyId = ski ? expectTag(parseDer(ski, "subjectKeyIdentifier"), Tag.OCTET_STRING, "subjectKeyIdentifier").value : void 0;
    const aki = ext(ExtOid.AUTHORITY_KEY_ID);
    this.authorityKeyId = aki ? parseAuthorityKeyId(aki) : void 0;
    this.unhandledCriticalExtensions = extensions.filter((e) => e.critical && !PROCESSED_EXTENSIONS.has(e.oid)).map((e) => e.oid);
    try {
      this.x509 = new X509Certificate(der);
      this.publicKey = createPublicKey2({
        key: Buffer.from(this.spkiDer),
        format: "der",
        type: "spki"
      });
    } catch (e) {
      throw new VpnError("ERR_CERT", `certificate rejected by OpenSSL: ${errorText(e)}`, {
        cause: e
      });
    }
    if (this.publicKey.asymmetricKeyType !== keyType)
      throw new VpnError(
        "ERR_CERT",
        `public key is ${String(this.publicKey.asymmetricKeyType)}, not ${keyType}`
      );
  }
  /**
   * Parses a DER certificate (the bytes are copied). Throws ParseError for malformed DER,
   * VpnError('ERR_CERT') for a certificate we cannot use; never anything else.
   */
  static fromDer(der) {
    try {
      return new _Certificate(Uint8Array.from(der));
    } catch (e) {
      if (e instanceof VpnError) throw e;
      throw new VpnError("ERR_CERT", `invalid certificate: ${errorText(e)}`, { cause: e });
    }
  }
  /** Every certificate of a PEM text (see `pemToDer`). */
  static fromPem(text) {
    return pemToDer(text).map((d) => _Certificate.fromDer(d));
  }
  /**
   * SHA-1 of the DER SubjectPublicKeyInfo: what a CERTREQ payload carries for a trust anchor
   * (RFC 7296 §3.7, strongSwan's KEYID_PUBKEY_INFO_SHA1), and what ID_KEY_ID usually holds.
   */
  keyIdSha1() {
    this.keyId ??= new Uint8Array(createHash3("sha1").update(this.spkiDer).digest());
    return this.keyId.slice();
  }
  /**
   * The CERTREQ hashes (RFC 7296 §3.7) to send for this certificate as a trust anchor:
   * `keyIdSha1()`, and for an id-RSASSA-PSS key also the SHA-1 of the same key written as an
   * rsaEncryption SubjectPublicKeyInfo, which is what strongSwan computes for such keys (it
   * re-encodes RSA public keys), so that a strongSwan gateway recognizes the CA either way.
   */
  certreqKeyIds() {
    const ids = [this.keyIdSha1()];
    if (this.keyType === "rsa-pss") {
      const asRsa = seq(seq(oid("1.2.840.113549.1.1.1"), DER_NULL), this.keyBits);
      ids.push(new Uint8Array(createHash3("sha1").update(asRsa).digest()));
    }
    return ids;
  }
  /** SHA-256 of the whole certificate, colon-separated hex (for logs and messages). */
  fingerprintSha256() {
    const d = createHash3("sha256").update(this.der).digest();
    return Array.from(d, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
  }
  /** Subject and issuer are the same name (RFC 5280 §6.1: "self-issued"). */
  get selfIssued() {
    return sameDistinguishedName(this.subjectDer, this.issuerDer);
  }
  /** Self-issued and signed with its own key. */
  get selfSigned() {
    return this.selfIssued && this.signedBy(this.publicKey);
  }
  /** notBefore ≤ now ≤ notAfter (RFC 5280 §4.1.2.5: both bounds inclusive). */
  validAt(now) {
    return this.notBefore <= now && now <= this.notAfter;
  }
  /** Whether the certificate's signature verifies with `key` (no name check). */
  signedBy(key) {
    try {
      return this.x509.verify(key);
    } catch {
      return false;
    }
  }
  /**
   * Whether `ca` issued this certificate: our issuer name is its subject name (RFC 5280 §7.1
   * comparison) and our signature verifies with its public key. Says nothing about whether `ca`
   * may act as a CA (see verifyChain).
   */
  issuedBy(ca) {
    return sameDistinguishedName(this.issuerDer, ca.subjectDer) && this.signedBy(ca.publicKey);
  }
  /** Same DER bytes. */
  equals(other) {
    return bytesEqual2(this.der, other.der);
  }
  /** The subject for messages ("the certificate with an empty subject" if it has none). */
  describe() {
    if (this.subject !== "") return this.subject;
    const first = this.subjectAltNames.all[0];
    return first ? `(empty subject, ${first.type}:${first.value})` : "(empty subject)";
  }
  /** The commonName values of the subject, in order. */
  get commonNames() {
    return commonNames(this.subjectDer);
  }
};
function pemToDer(text) {
  const out = [];
  const begin = /-----BEGIN (X509 |TRUSTED )?CERTIFICATE-----/g;
  for (let m = begin.exec(text); m !== null; m = begin.exec(text)) {
    const label = `${m[1] ?? ""}CERTIFICATE`;
    const start = m.index + m[0].length;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, start);
    if (end < 0) throw new ParseError("PEM", m.index, `no "${endMarker}" line`);
    let body = text.slice(start, end);
    body = body.split(/\r?\n/).filter((l) => !/^[A-Za-z-]+:/.test(l.trim())).join("");
    const b64 = body.replace(/\s+/g, "");
    if (b64 === "" || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
      throw new ParseError("PEM", start, "bad base64");
    let der = new Uint8Array(Buffer.from(b64, "base64"));
    if (m[1] === "TRUSTED ") der = readDer(der, 0, "certificate").der.raw.slice();
    out.push(der);
    begin.lastIndex = end + endMarker.length;
  }
  return out;
}
function algorithmOid(alg, what) {
  const parts = children(alg, what);
  if (parts.length < 1 || parts.length > 2)
    throw new ParseError(what, 0, "bad AlgorithmIdentifier");
  return decodeOid(expectTag(parts[0], Tag.OID, what).value);
}
function parseExtension(e) {
  const parts = children(expectTag(e, Tag.SEQUENCE, "extension"), "extension");
  const oid2 = decodeOid(expectTag(parts[0], Tag.OID, "extnID").value);
  let critical = false;
  let k = 1;
  if (parts[k]?.tag === Tag.BOOLEAN) {
    const b = parts[k].value;
    if (b.length !== 1) throw new ParseError("extension", 0, "bad BOOLEAN");
    critical = b[0] !== 0;
    k++;
  }
  const value = expectTag(parts[k], Tag.OCTET_STRING, "extnValue").value;
  if (k + 1 !== parts.length) throw new ParseError("extension", 0, "trailing data");
  return { oid: oid2, critical, value };
}
function emptySans() {
  return { dns: [], ip: [], ipBytes: [], email: [], uri: [], dirNames: [], all: [] };
}
function parseSubjectAltNames(v) {
  const s = emptySans();
  const names = children(expectTag(parseDer(v, "subjectAltName"), Tag.SEQUENCE, "subjectAltName"));
  if (names.length === 0) throw new ParseError("subjectAltName", 0, "empty");
  for (const n of names) {
    switch (n.tag) {
      case 129: {
        const t = latin1(n.value);
        s.email.push(t);
        s.all.push({ type: "email", value: t, raw: n.value });
        break;
      }
      case 130: {
        const t = latin1(n.value);
        s.dns.push(t);
        s.all.push({ type: "dns", value: t, raw: n.value });
        break;
      }
      case 134: {
        const t = latin1(n.value);
        s.uri.push(t);
        s.all.push({ type: "uri", value: t, raw: n.value });
        break;
      }
      case 135: {
        if (n.value.length === 4 || n.value.length === 16) {
          const t = formatIpAddress(n.value);
          s.ip.push(t);
          s.ipBytes.push(n.value);
          s.all.push({ type: "ip", value: t, raw: n.value });
        } else {
          s.all.push({ type: "other", value: hex2(n.value), raw: n.value });
        }
        break;
      }
      case 164: {
        const [name, ...rest] = children(n, "directoryName");
        if (!name || rest.length > 0) throw new ParseError("directoryName", 0, "expected a Name");
        expectTag(name, Tag.SEQUENCE, "directoryName");
        s.dirNames.push(name.raw);
        s.all.push({ type: "dirName", value: formatDn(name.raw), raw: name.raw });
        break;
      }
      default:
        if ((n.tag & 192) !== 128 || (n.tag & 31) > 8)
          throw new ParseError("subjectAltName", 0, `bad GeneralName tag 0x${n.tag.toString(16)}`);
        s.all.push({ type: "other", value: hex2(n.raw), raw: n.raw });
    }
  }
  return s;
}
function parseKeyUsage(v) {
  const bits = expectTag(parseDer(v, "keyUsage"), Tag.BIT_STRING, "keyUsage").value;
  if (bits.length === 0 || bits[0] > 7 || bits.length === 1 && bits[0] !== 0)
    throw new ParseError("keyUsage", 0, "bad BIT STRING");
  const bit = (i) => ((bits[1 + (i >> 3)] ?? 0) & 128 >> (i & 7)) !== 0;
  return {
    digitalSignature: bit(0),
    nonRepudiation: bit(1),
    keyEncipherment: bit(2),
    dataEncipherment: bit(3),
    keyAgreement: bit(4),
    keyCertSign: bit(5),
    cRLSign: bit(6),
    encipherOnly: bit(7),
    decipherOnly: bit(8)
  };
}
function parseExtKeyUsage(v) {
  const list2 = children(expectTag(parseDer(v, "extKeyUsage"), Tag.SEQUENCE, "extKeyUsage"));
  if (list2.length === 0) throw new ParseError("extKeyUsage", 0, "empty");
  return list2.map((o) => decodeOid(expectTag(o, Tag.OID, "KeyPurposeId").value));
}
function parseBasicConstraints(v) {
  const parts = children(
    expectTag(parseDer(v, "basicConstraints"), Tag.SEQUENCE, "basicConstraints")
  );
  let k = 0;
  let cA = false;
  if (parts[k]?.tag === Tag.BOOLEAN) {
    const b = parts[k].value;
    if (b.length !== 1) throw new ParseError("basicConstraints", 0, "bad BOOLEAN");
    cA = b[0] !== 0;
    k++;
  }
  let pathLen;
  if (parts[k]?.tag === Tag.INTEGER) {
    const n = parts[k].value;
    if (n.length === 0 || n.length > 2 || (n[0] & 128) !== 0)
      throw new ParseError("basicConstraints", 0, "bad pathLenConstraint");
    pathLen = n.reduce((a, b) => a * 256 + b, 0);
    k++;
  }
  if (k !== parts.length) throw new ParseError("basicConstraints", 0, "trailing data");
  return pathLen === void 0 ? { cA } : { cA, pathLen };
}
function parseAuthorityKeyId(v) {
  const parts = children(
    expectTag(parseDer(v, "authorityKeyIdentifier"), Tag.SEQUENCE, "authorityKeyIdentifier")
  );
  const first = parts[0];
  return first?.tag === 128 ? first.value : void 0;
}
function parseTime(d) {
  const s = latin1(d.value);
  let y;
  let rest;
  if (d.tag === Tag.UTC_TIME) {
    if (!/^\d{12}Z$/.test(s)) throw new ParseError("UTCTime", 0, `"${s}"`);
    const yy = Number(s.slice(0, 2));
    y = yy >= 50 ? 1900 + yy : 2e3 + yy;
    rest = s.slice(2);
  } else if (d.tag === Tag.GENERALIZED_TIME) {
    if (!/^\d{14}Z$/.test(s)) throw new ParseError("GeneralizedTime", 0, `"${s}"`);
    y = Number(s.slice(0, 4));
    rest = s.slice(4);
  } else {
    throw new ParseError("validity", 0, `tag 0x${d.tag.toString(16)} is not a time`);
  }
  const [mo, day, h, mi, sec] = [0, 2, 4, 6, 8].map((o) => Number(rest.slice(o, o + 2)));
  const date = /* @__PURE__ */ new Date(0);
  date.setUTCFullYear(y, mo - 1, day);
  date.setUTCHours(h, mi, sec, 0);
  if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59 || date.getUTCDate() !== day || date.getUTCMonth() !== mo - 1)
    throw new ParseError("validity", 0, `impossible date "${s}"`);
  return date.getTime();
}
function hex2(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
function bytesEqual2(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

// src/pki/chain.ts
var DEFAULT_MAX_DEPTH = 8;
var MAX_INTERMEDIATES = 32;
var MAX_SIGNATURE_CHECKS = 256;
var MAX_CANDIDATE_PATHS = 16;
function verifyChain(opts2) {
  const { leaf, anchors, now } = opts2;
  const maxDepth = opts2.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isFinite(now)) throw new VpnError("ERR_ARG", "verifyChain: now is not a time");
  if (!Number.isInteger(maxDepth) || maxDepth < 1)
    throw new VpnError("ERR_ARG", "verifyChain: maxDepth must be a positive integer");
  if (anchors.some((a) => isSameAnchor(a, leaf))) {
    const err = validatePath([leaf], now, maxDepth, true);
    return err ? { ok: false, error: err } : { ok: true, path: [leaf] };
  }
  const intermediates = dedupe(
    opts2.intermediates.filter((c) => !c.equals(leaf) && !anchors.some((a) => a.equals(c)))
  ).slice(0, MAX_INTERMEDIATES);
  const search = new PathSearch(anchors, intermediates, maxDepth);
  search.extend([leaf]);
  const paths = search.found.sort((a, b) => a.length - b.length);
  let firstError;
  for (const p of paths) {
    const err = validatePath(p, now, maxDepth, false);
    if (!err) return { ok: true, path: p };
    firstError ??= err;
  }
  if (firstError) return { ok: false, error: firstError };
  const bad = search.badSignature;
  if (bad) {
    return {
      ok: false,
      error: new VpnError(
        "ERR_CERT",
        `the signature of certificate "${bad.cert.describe()}" does not verify with the key of ${bad.anchor ? "trusted CA" : "CA certificate"} "${bad.issuer.describe()}" (forged, corrupted, or from another CA of the same name)`
      )
    };
  }
  const top = search.deepest[search.deepest.length - 1] ?? leaf;
  const via = search.deepest.length > 1 ? ` (via ${search.deepest.slice(1).map((c) => `"${c.describe()}"`).join(", ")})` : "";
  return {
    ok: false,
    error: new VpnError(
      "ERR_CERT_UNTRUSTED",
      `certificate ${leaf.describe()} issued by ${leaf.issuer || "(empty name)"} is not trusted: no trust anchor for ${top.issuer || "(empty name)"}${via}; pass --ca`
    )
  };
}
function isSameAnchor(anchor, c) {
  return anchor.equals(c) || sameDistinguishedName(anchor.subjectDer, c.subjectDer) && bytesEqual3(anchor.spkiDer, c.spkiDer);
}
function dedupe(certs) {
  const out = [];
  for (const c of certs) if (!out.some((o) => o.equals(c))) out.push(c);
  return out;
}
var PathSearch = class {
  found = [];
  /** The longest partial path that reached no anchor. */
  deepest = [];
  /** An issuer whose name matched but whose key did not verify the signature. */
  badSignature;
  checks = 0;
  memo = /* @__PURE__ */ new Map();
  anchors;
  intermediates;
  maxDepth;
  constructor(anchors, intermediates, maxDepth) {
    this.anchors = anchors;
    this.intermediates = intermediates;
    this.maxDepth = maxDepth;
  }
  signs(issuer, subject) {
    let m = this.memo.get(subject);
    if (!m) {
      m = /* @__PURE__ */ new Map();
      this.memo.set(subject, m);
    }
    const known = m.get(issuer);
    if (known !== void 0) return known;
    this.checks++;
    const ok = subject.signedBy(issuer.publicKey);
    m.set(issuer, ok);
    return ok;
  }
  budgetLeft() {
    return this.checks < MAX_SIGNATURE_CHECKS && this.found.length < MAX_CANDIDATE_PATHS;
  }
  extend(path) {
    const top = path[path.length - 1];
    let reached = false;
    for (const a of this.anchors) {
      if (!this.budgetLeft()) return;
      if (!sameDistinguishedName(top.issuerDer, a.subjectDer)) continue;
      if (this.signs(a, top)) {
        this.found.push([...path, a]);
        reached = true;
      } else {
        this.badSignature ??= { cert: top, issuer: a, anchor: true };
      }
    }
    if (!reached && path.length <= this.maxDepth) {
      for (const c of this.intermediates) {
        if (!this.budgetLeft()) return;
        if (path.includes(c)) continue;
        if (!sameDistinguishedName(top.issuerDer, c.subjectDer)) continue;
        if (this.signs(c, top)) {
          this.extend([...path, c]);
        } else {
          this.badSignature ??= { cert: top, issuer: c, anchor: false };
        }
      }
    }
    if (!reached && path.length > this.deepest.length) this.deepest = path;
  }
};
function iso(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
function role(i, n, leafIsAnchor) {
  if (i === 0) return leafIsAnchor ? "trusted certificate" : "certificate";
  return i === n - 1 ? "trust anchor" : "intermediate CA certificate";
}
function validatePath(path, now, maxDepth, leafIsAnchor) {
  const n = path.length;
  const leaf = path[0];
  if (n > maxDepth) {
    return new VpnError(
      "ERR_CERT",
      `the certificate chain of ${leaf.describe()} has ${n} certificates, more than the limit of ${maxDepth}`
    );
  }
  const anchorIndex = leafIsAnchor ? 0 : n - 1;
  for (let i = 0; i < n; i++) {
    const c = path[i];
    const what = `${role(i, n, leafIsAnchor)} "${c.describe()}"`;
    if (i !== anchorIndex) {
      if (c.unhandledCriticalExtensions.length > 0) {
        return new VpnError(
          "ERR_CERT",
          `${what} has a critical extension we do not process (${c.unhandledCriticalExtensions.join(", ")}); RFC 5280 §4.2 requires refusing it`
        );
      }
      if (WEAK_SIGNATURE_ALGORITHMS.has(c.signatureAlgorithm)) {
        return new VpnError(
          "ERR_CERT",
          `${what} is signed with ${c.signatureAlgorithmName}, which is not accepted`
        );
      }
    }
    if (i >= 1) {
      const bc = c.basicConstraints;
      const v1Root = i === anchorIndex && c.version === 1 && c.selfSigned;
      const below = path[i - 1];
      if (!(bc?.cA === true || v1Root)) {
        return new VpnError(
          "ERR_CERT",
          `${what} is not a CA certificate (${bc ? "basicConstraints cA is false" : "no basicConstraints"}), yet it signed "${below.describe()}"`
        );
      }
      if (c.keyUsage && !c.keyUsage.keyCertSign) {
        return new VpnError(
          "ERR_CERT",
          `${what} may not sign certificates: its keyUsage (${keyUsageNames(c.keyUsage).join(", ") || "none"}) lacks keyCertSign, yet it signed "${below.describe()}"`
        );
      }
      const pathLen = bc?.pathLen;
      if (pathLen !== void 0) {
        const cas = path.slice(1, i).filter((x) => !x.selfIssued).length;
        if (cas > pathLen) {
          return new VpnError(
            "ERR_CERT",
            `${what} allows ${pathLen} intermediate CA certificate${pathLen === 1 ? "" : "s"} below it (pathLen ${pathLen}), but the chain of "${leaf.describe()}" has ${cas}`
          );
        }
      }
    }
  }
  const ku = leaf.keyUsage;
  if (ku && !ku.digitalSignature && !ku.nonRepudiation) {
    return new VpnError(
      "ERR_CERT",
      `certificate "${leaf.describe()}" may not be used for signatures: its keyUsage (${keyUsageNames(ku).join(", ") || "none"}) lacks digitalSignature`
    );
  }
  for (let i = 0; i < n; i++) {
    const c = path[i];
    const what = `${role(i, n, leafIsAnchor)} "${c.describe()}"`;
    if (now > c.notAfter) {
      return new VpnError(
        "ERR_CERT_EXPIRED",
        `${what} expired on ${iso(c.notAfter)} (valid from ${iso(c.notBefore)}; it is now ${iso(now)})`
      );
    }
    if (now < c.notBefore) {
      return new VpnError(
        "ERR_CERT_EXPIRED",
        `${what} is not valid before ${iso(c.notBefore)} (it is now ${iso(now)}; check the clock)`
      );
    }
  }
  return void 0;
}
function bytesEqual3(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function checkExtendedKeyUsage(cert, accepted, use) {
  const eku = cert.extendedKeyUsage;
  if (eku === void 0) return void 0;
  if (eku.includes(EkuOid.ANY) || accepted.some((oid2) => eku.includes(oid2))) return void 0;
  const has = eku.map(ekuName).join(", ");
  const want = accepted.map(ekuName).join(", ");
  const client = eku.includes(EkuOid.CLIENT_AUTH) ? ": it is a client certificate" : "";
  return new VpnError(
    "ERR_CERT",
    `certificate "${cert.describe()}" may not be used as ${use}${client} (extended key usage ${has}; one of ${want} or anyExtendedKeyUsage, or no extended key usage at all, is required)`
  );
}

// src/ike/auth/cert-identity.ts
var utf8 = new TextDecoder("utf-8", { fatal: true });
function textOf(b) {
  try {
    return utf8.decode(b);
  } catch {
    return void 0;
  }
}
function matchesIdentity(cert, id) {
  const sans = cert.subjectAltNames;
  switch (id.type) {
    case IdType.FQDN: {
      const name = textOf(id.data);
      return name !== void 0 && sans.dns.some((p) => matchesDnsName(p, name));
    }
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR: {
      const want = id.type === IdType.IPV4_ADDR ? 4 : 16;
      if (id.data.length !== want) return false;
      return sans.ipBytes.some((a) => equalBytes(a, id.data));
    }
    case IdType.RFC822_ADDR: {
      const mail = textOf(id.data);
      if (mail === void 0 || mail === "") return false;
      const m = asciiLower(mail);
      return sans.email.some((e) => asciiLower(e) === m);
    }
    case IdType.DER_ASN1_DN:
      return sameDistinguishedName(cert.subjectDer, id.data);
    case IdType.KEY_ID:
      return id.data.length > 0 && (equalBytes(cert.keyIdSha1(), id.data) || cert.subjectKeyId !== void 0 && equalBytes(cert.subjectKeyId, id.data));
    default:
      return false;
  }
}

// src/ike/auth/validator.ts
var GATEWAY_EKUS = [
  EkuOid.SERVER_AUTH,
  EkuOid.IKE_INTERMEDIATE,
  EkuOid.IPSEC_IKE
];
function createCertValidator(opts2) {
  const anchors = [];
  for (const der of opts2.anchors) {
    try {
      anchors.push(Certificate.fromDer(der));
    } catch {
    }
  }
  const keyIds = anchors.flatMap((a) => a.certreqKeyIds());
  return {
    certreqKeyIds: keyIds,
    validate(certs, id, now) {
      let parsed;
      try {
        parsed = certs.map((der) => Certificate.fromDer(der));
      } catch (e) {
        return {
          ok: false,
          error: new VpnError(
            "ERR_CERT",
            `the gateway sent a certificate we cannot parse: ${e.message}`
          )
        };
      }
      const [leaf, ...intermediates] = parsed;
      if (!leaf) return { ok: false, error: new VpnError("ERR_CERT", "no gateway certificate") };
      const chain = verifyChain({
        leaf,
        intermediates,
        anchors,
        now,
        ...opts2.maxDepth !== void 0 ? { maxDepth: opts2.maxDepth } : {}
      });
      if (!chain.ok) return { ok: false, error: chain.error };
      const eku = checkExtendedKeyUsage(leaf, GATEWAY_EKUS, "an IKE gateway");
      if (eku) return { ok: false, error: eku };
      const subject = leaf.subject;
      if (!matchesIdentity(leaf, id)) {
        return {
          ok: false,
          error: new VpnError(
            "ERR_CERT_NAME",
            `the gateway identified as "${formatIdentity(id)}", but its certificate "${subject}" does not carry that identity (${describeNames(leaf)})`
          )
        };
      }
      if (opts2.host !== void 0 && !matchesHost(leaf, opts2.host)) {
        return {
          ok: false,
          error: new VpnError(
            "ERR_CERT_NAME",
            `the gateway's certificate "${subject}" is not valid for ${opts2.host}, the host we dialled (${describeNames(leaf)}); check the address, or use --no-host-check with --remote-id`
          )
        };
      }
      return { ok: true, publicKey: leaf.publicKey, subject };
    }
  };
}
function describeNames(c) {
  const sans = c.subjectAltNames;
  const names = [
    ...sans.dns.map((d) => `DNS:${d}`),
    ...sans.ip.map((i) => `IP:${i}`),
    ...sans.email.map((m) => `email:${m}`)
  ];
  return names.length > 0 ? `it names ${names.join(", ")}` : "it has no subjectAltName";
}

// src/client/eap-tls.ts
import { X509Certificate as X509Certificate3, constants as cryptoConstants } from "node:crypto";
import { isIP } from "node:net";
import { Duplex } from "node:stream";
import * as tls from "node:tls";

// src/client/eap-tls-wire.ts
var EAP_TYPE_TLS = 13;
var EAP_CODE_REQUEST = 1;
var EAP_CODE_RESPONSE = 2;
var EAP_TLS_FLAG_LENGTH = 128;
var EAP_TLS_FLAG_MORE = 64;
var EAP_TLS_FLAG_START = 32;
var HEADER_LEN = 6;
var TLS_LENGTH_LEN = 4;
var EAP_TLS_MAX_MESSAGE = 64 * 1024;
var EAP_TLS_DEFAULT_FRAGMENT_SIZE = 1e3;
var MIN_FRAGMENT_SIZE = 16;
var MAX_FRAGMENT_SIZE = 65535 - HEADER_LEN - TLS_LENGTH_LEN;
function parseRequest(packet) {
  if (packet.length < HEADER_LEN) {
    return `EAP-TLS Request too short (${packet.length} bytes)`;
  }
  const code = packet[0];
  const id = packet[1];
  const length = packet[2] << 8 | packet[3];
  const type = packet[4];
  const flags = packet[5];
  if (code !== EAP_CODE_REQUEST) return `expected an EAP Request, got Code ${code}`;
  if (length < HEADER_LEN || length > packet.length) {
    return `EAP-TLS Request Length ${length} does not fit the ${packet.length}-byte packet`;
  }
  if (type !== EAP_TYPE_TLS) return `expected an EAP-TLS Request (Type 13), got Type ${type}`;
  let offset = HEADER_LEN;
  let tlsLength;
  if ((flags & EAP_TLS_FLAG_LENGTH) !== 0) {
    if (length < HEADER_LEN + TLS_LENGTH_LEN) {
      return "EAP-TLS Request has the L flag but no TLS Message Length field";
    }
    tlsLength = packet[6] * 16777216 + (packet[7] << 16 | packet[8] << 8 | packet[9]);
    offset += TLS_LENGTH_LEN;
  }
  return { id, flags, tlsLength, data: packet.subarray(offset, length) };
}
function encodePacket(code, id, flags, tlsLength, data) {
  const extra = tlsLength === void 0 ? 0 : TLS_LENGTH_LEN;
  const length = HEADER_LEN + extra + data.length;
  const out = new Uint8Array(length);
  out[0] = code;
  out[1] = id;
  out[2] = length >> 8;
  out[3] = length & 255;
  out[4] = EAP_TYPE_TLS;
  out[5] = flags;
  if (tlsLength !== void 0) {
    new DataView(out.buffer).setUint32(HEADER_LEN, tlsLength);
  }
  out.set(data, HEADER_LEN + extra);
  return out;
}
function concat(parts, total) {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
function flagNames(flags) {
  let s = "";
  if ((flags & EAP_TLS_FLAG_LENGTH) !== 0) s += "L";
  if ((flags & EAP_TLS_FLAG_MORE) !== 0) s += "M";
  if ((flags & EAP_TLS_FLAG_START) !== 0) s += "S";
  return s === "" ? "-" : s;
}

// src/client/eap-tls-errors.ts
import { X509Certificate as X509Certificate2 } from "node:crypto";
function toPem(der, what) {
  try {
    return new X509Certificate2(Buffer.from(der)).toString();
  } catch (e) {
    throw new VpnError("ERR_CERT", `EAP-TLS: ${what} is not a valid DER certificate`, {
      cause: e
    });
  }
}
function eapError3(message, cause) {
  return new VpnError(
    "ERR_EAP_FAILED",
    `EAP-TLS: ${message}`,
    cause === void 0 ? void 0 : { cause }
  );
}
function opensslReason(e) {
  const reason = e?.reason;
  return typeof reason === "string" && reason !== "" ? reason : errorMessage(e);
}
function errorMessage(e) {
  return e instanceof Error ? e.message : String(e);
}
var UNTRUSTED_CODES = /* @__PURE__ */ new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_UNTRUSTED"
]);
var EXPIRED_CODES = /* @__PURE__ */ new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);
var INVALID_CERT_CODES = /* @__PURE__ */ new Set([
  "CERT_SIGNATURE_FAILURE",
  "CERT_REJECTED",
  "CERT_REVOKED",
  "INVALID_CA",
  "INVALID_PURPOSE",
  "PATH_LENGTH_EXCEEDED",
  "CERT_CHAIN_TOO_LONG",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD"
]);
var CLIENT_CERT_ALERTS = /* @__PURE__ */ new Set([
  "handshake failure",
  "bad certificate",
  "unsupported certificate",
  "certificate revoked",
  "certificate expired",
  "certificate unknown",
  "unknown ca",
  "access denied",
  "certificate required"
]);
function checkServer(peer, serverName, serverIdentity) {
  if (serverIdentity === void 0) return void 0;
  let leaf;
  try {
    leaf = Certificate.fromDer(new Uint8Array(peer.raw));
  } catch (e) {
    return new TlsServerCertError(
      "ERR_CERT",
      `cannot parse the server's certificate: ${errorMessage(e)}`
    );
  }
  if (!matchesIdentity(leaf, serverIdentity)) {
    return new TlsServerCertError(
      "ERR_CERT_NAME",
      `the server's certificate "${leaf.describe()}" does not carry the gateway's identity "${formatIdentity(serverIdentity)}"${serverName === void 0 ? "" : ` (it was also to name ${serverName})`}`
    );
  }
  return void 0;
}
var TlsServerCertError = class extends Error {
  vpnCode;
  constructor(vpnCode, message) {
    super(message);
    this.vpnCode = vpnCode;
  }
};
function mapTlsError(e, serverName, haveCert) {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = err.code;
  const c = typeof code === "string" ? code : "";
  const make = (codeOut, message) => new VpnError(codeOut, `EAP-TLS: ${message}`, { cause: err });
  if (err instanceof TlsServerCertError) return make(err.vpnCode, err.message);
  if (c === "INVALID_PURPOSE") {
    return make(
      "ERR_CERT",
      `the server's certificate is not meant for a TLS server: its extended key usage lacks serverAuth (${c}: ${err.message}); a client certificate cannot stand for the gateway`
    );
  }
  if (UNTRUSTED_CODES.has(c)) {
    return make(
      "ERR_CERT_UNTRUSTED",
      `the server's certificate is not trusted (${c}: ${err.message}); no path to the given CA certificates`
    );
  }
  if (EXPIRED_CODES.has(c)) {
    return make(
      "ERR_CERT_EXPIRED",
      `a certificate on the server's chain ${c === "CERT_HAS_EXPIRED" ? "has expired" : "is not yet valid"} (${c})`
    );
  }
  if (c === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return make(
      "ERR_CERT_NAME",
      `the server's certificate does not name ${serverName ?? "the expected server"}: ${err.message}`
    );
  }
  if (INVALID_CERT_CODES.has(c)) {
    return make("ERR_CERT", `the server's certificate chain is invalid (${c}: ${err.message})`);
  }
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(c)?.[1];
  if (alert !== void 0) {
    const name = alert.toLowerCase().replaceAll("_", " ");
    const hint = CLIENT_CERT_ALERTS.has(name) ? haveCert ? "; it probably did not accept our client certificate" : "; it probably requires a client certificate and none is configured" : "";
    return make(
      "ERR_EAP_FAILED",
      `the server aborted the TLS handshake with alert "${name}"${hint}`
    );
  }
  return make("ERR_EAP_FAILED", `TLS failed: ${opensslReason(err)}${c === "" ? "" : ` (${c})`}`);
}

// src/client/eap-tls.ts
var SETTLE_IDLE_ROUNDS = 4;
var SETTLE_MAX_ROUNDS = 1e4;
var MSK_LEN = 64;
var KEY_MATERIAL_LEN = 128;
var TLS12_KEY_LABEL = "client EAP encryption";
var TLS13_KEY_LABEL = "EXPORTER_EAP_TLS_Key_Material";
function createEapTls(opts2) {
  return new EapTlsPeer(opts2);
}
var WireDuplex = class extends Duplex {
  #onWrite;
  constructor(onWrite) {
    super();
    this.#onWrite = onWrite;
  }
  _read() {
  }
  _write(chunk, _encoding, callback) {
    this.#onWrite(chunk);
    callback();
  }
};
var EapTlsPeer = class {
  type = EAP_TYPE_TLS;
  name = "EAP-TLS";
  #log;
  #onResponse;
  #onFailure;
  #tlsOptions;
  #versions;
  #fragmentSize;
  #serverName;
  #haveCert;
  #identity;
  #state = "idle";
  #socket;
  #wire;
  /** TLS output not yet sent. */
  #outbox = [];
  /** Bumped on every write, push and TLS event: how `#settle` sees that TLS is still busy. */
  #activity = 0;
  /** A Request is being processed and not yet answered. */
  #busy = false;
  #reassembly;
  #outgoing;
  #protocol;
  #handshakeDone = false;
  /** RFC 9190 §2.1.1: the server's one-octet 0x00 application data ("commitment message"). */
  #committed = false;
  #msk;
  constructor(opts2) {
    this.#log = opts2.logger ?? NOOP_LOGGER;
    this.#onResponse = opts2.onResponse;
    this.#onFailure = opts2.onFailure;
    this.#identity = opts2.identity;
    this.#serverName = opts2.serverName;
    this.#haveCert = opts2.cert !== void 0 && opts2.cert.length > 0;
    const fragmentSize = opts2.fragmentSize ?? EAP_TLS_DEFAULT_FRAGMENT_SIZE;
    if (!Number.isInteger(fragmentSize) || fragmentSize < MIN_FRAGMENT_SIZE || fragmentSize > MAX_FRAGMENT_SIZE) {
      throw new VpnError(
        "ERR_CONFIG",
        `EAP-TLS fragment size must be an integer from ${MIN_FRAGMENT_SIZE} to ${MAX_FRAGMENT_SIZE}, got ${fragmentSize}`
      );
    }
    this.#fragmentSize = fragmentSize;
    if (opts2.serverName === void 0 && opts2.serverIdentity === void 0) {
      throw new VpnError(
        "ERR_CONFIG",
        "EAP-TLS needs the name (serverName) or the identity (serverIdentity) the server certificate must carry"
      );
    }
    if (opts2.serverName?.length === 0) {
      throw new VpnError("ERR_CONFIG", "EAP-TLS server name is empty");
    }
    if (opts2.ca.length === 0) {
      throw new VpnError("ERR_CONFIG", "EAP-TLS needs at least one CA certificate to trust");
    }
    const minVersion = opts2.minVersion ?? "TLSv1.2";
    const maxVersion = opts2.maxVersion ?? "TLSv1.2";
    if (minVersion === "TLSv1.3" && maxVersion === "TLSv1.2") {
      throw new VpnError("ERR_CONFIG", "EAP-TLS minVersion TLSv1.3 is above maxVersion TLSv1.2");
    }
    if (this.#haveCert !== (opts2.key !== void 0)) {
      throw new VpnError(
        "ERR_CONFIG",
        "EAP-TLS client certificate and private key must be given together"
      );
    }
    const contextOptions = {
      ca: opts2.ca.map((der, i) => toPem(der, `CA certificate ${i + 1}`)),
      minVersion,
      maxVersion,
      // strongSwan's libtls (5.9) does not send the RFC 5746 renegotiation_info extension, which
      // OpenSSL 3 insists on by default. EAP-TLS never renegotiates, so the attack RFC 5746
      // prevents (splicing a renegotiation onto an attacker's session) cannot happen here.
      secureOptions: cryptoConstants.SSL_OP_LEGACY_SERVER_CONNECT
    };
    if (opts2.cert !== void 0 && opts2.cert.length > 0 && opts2.key !== void 0) {
      contextOptions.cert = opts2.cert.map((der, i) => toPem(der, i === 0 ? "client certificate" : `chain certificate ${i}`)).join("");
      if (opts2.key.type !== "private") {
        throw new VpnError("ERR_CONFIG", "EAP-TLS client key must be a private key");
      }
      const leaf = opts2.cert[0];
      if (leaf !== void 0 && !new X509Certificate3(Buffer.from(leaf)).checkPrivateKey(opts2.key)) {
        throw new VpnError(
          "ERR_CERT",
          "EAP-TLS: the client private key does not belong to the client certificate"
        );
      }
      contextOptions.key = opts2.key.export({ format: "pem", type: "pkcs8" });
    }
    let secureContext;
    try {
      secureContext = tls.createSecureContext(contextOptions);
    } catch (e) {
      throw new VpnError(
        "ERR_CERT",
        `EAP-TLS: unusable client certificate or key: ${opensslReason(e)}`,
        { cause: e }
      );
    }
    const serverName = opts2.serverName;
    const serverIdentity = opts2.serverIdentity;
    const tlsOptions = {
      secureContext,
      // The chain must lead to one of `ca` (the context's only trust anchors). OpenSSL also
      // checks the TLS server purpose: an extendedKeyUsage must allow serverAuth.
      rejectUnauthorized: true,
      // RFC 5216 §5.2: the peer checks the server's identity: its name (node's own check) and
      // the gateway's IKE identity.
      checkServerIdentity: (_host, cert) => checkServer(cert, serverName, serverIdentity) ?? (serverName === void 0 ? void 0 : tls.checkServerIdentity(serverName, cert))
    };
    if (serverName !== void 0 && isIP(serverName) === 0) tlsOptions.servername = serverName;
    this.#tlsOptions = tlsOptions;
    this.#versions = [minVersion, maxVersion];
  }
  request(packet) {
    if (this.#state === "failed" || this.#state === "closed") {
      this.#log.debug("eap", `EAP-TLS: ignoring a Request after the method ${this.#state}`);
      return;
    }
    if (this.#busy) {
      this.#fail(eapError3("a new EAP-TLS Request arrived before the previous one was answered"));
      return;
    }
    this.#busy = true;
    const copy = Uint8Array.from(packet);
    queueMicrotask(() => {
      this.#process(copy).catch((e) => {
        this.#fail(eapError3(`internal error: ${errorMessage(e)}`, e));
      });
    });
  }
  done() {
    return this.#state === "running" && this.#handshakeDone && this.#msk !== void 0 && (this.#protocol === "TLSv1.2" || this.#committed);
  }
  msk() {
    return this.done() && this.#msk !== void 0 ? Uint8Array.from(this.#msk) : void 0;
  }
  close() {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#busy = false;
    this.#teardown();
  }
  async #process(packet) {
    const req3 = parseRequest(packet);
    if (typeof req3 === "string") {
      this.#fail(eapError3(req3));
      return;
    }
    const { id, flags, data } = req3;
    this.#log.debug("eap", "EAP-TLS Request", {
      id,
      flags: flagNames(flags),
      tlsLength: req3.tlsLength,
      bytes: data.length
    });
    if ((flags & EAP_TLS_FLAG_START) !== 0) {
      if (this.#state !== "idle") {
        this.#fail(eapError3("the server sent a second EAP-TLS Start (restarts are not supported)"));
        return;
      }
      if (data.length > 0) {
        this.#log.debug("eap", "EAP-TLS: ignoring data in the Start request", {
          bytes: data.length
        });
      }
      this.#startTls();
      await this.#settle();
      this.#sendTlsOutput(id);
      return;
    }
    if (this.#state === "idle") {
      this.#fail(eapError3("the server sent an EAP-TLS Request before the Start request"));
      return;
    }
    if (this.#outgoing !== void 0) {
      if (data.length === 0 && (flags & EAP_TLS_FLAG_MORE) === 0) {
        this.#sendNextFragment(id);
      } else {
        this.#fail(
          eapError3(
            `expected the server to acknowledge our fragment, got a Request with ${data.length} bytes of TLS data`
          )
        );
      }
      return;
    }
    if (this.done()) {
      this.#fail(eapError3("the server sent another EAP-TLS Request after the handshake completed"));
      return;
    }
    const message = this.#reassemble(req3);
    if (typeof message === "string") {
      this.#fail(eapError3(message));
      return;
    }
    if (message === void 0) {
      this.#respond(encodePacket(EAP_CODE_RESPONSE, id, 0, void 0, new Uint8Array(0)));
      return;
    }
    if (message.length === 0) {
      this.#fail(
        eapError3("the server sent an empty EAP-TLS Request, but we have no fragment to send")
      );
      return;
    }
    this.#activity++;
    this.#wire?.push(Buffer.from(message));
    await this.#settle();
    this.#sendTlsOutput(id);
  }
  /** Adds one Request's data to the message being reassembled (RFC 5216 §2.1.5, §3.1). */
  #reassemble(req3) {
    const more = (req3.flags & EAP_TLS_FLAG_MORE) !== 0;
    let r = this.#reassembly;
    if (r === void 0) {
      if (req3.tlsLength !== void 0) {
        if (req3.tlsLength > EAP_TLS_MAX_MESSAGE) {
          return `the server announces a ${req3.tlsLength}-byte TLS message, more than the ${EAP_TLS_MAX_MESSAGE}-byte limit`;
        }
        if (req3.tlsLength < req3.data.length || !more && req3.tlsLength !== req3.data.length) {
          return `inconsistent EAP-TLS Length: ${req3.tlsLength} announced, ${req3.data.length} bytes in ${more ? "the first fragment" : "the message"}`;
        }
      }
      if (!more) return req3.data;
      if (req3.data.length === 0) return "the server sent an empty EAP-TLS fragment with M set";
      if (req3.tlsLength !== void 0 && req3.tlsLength === req3.data.length) {
        return `the first fragment already holds all ${req3.tlsLength} announced bytes but M says more follow`;
      }
      r = { expected: req3.tlsLength, parts: [], received: 0 };
      this.#reassembly = r;
    } else if (req3.tlsLength !== void 0 && req3.tlsLength !== r.expected) {
      return `inconsistent EAP-TLS Length: fragment announces ${req3.tlsLength} bytes, the first announced ${r.expected ?? "none"}`;
    }
    if (more && req3.data.length === 0)
      return "the server sent an empty EAP-TLS fragment with M set";
    const received = r.received + req3.data.length;
    const limit = r.expected ?? EAP_TLS_MAX_MESSAGE;
    if (received > limit) {
      return r.expected !== void 0 ? `the server sent more than the ${r.expected} announced bytes of a fragmented TLS message` : `fragmented TLS message exceeds the ${EAP_TLS_MAX_MESSAGE}-byte limit`;
    }
    if (more && r.expected !== void 0 && received === r.expected) {
      return `the server announced more fragments after all ${r.expected} bytes of the TLS message arrived`;
    }
    if (!more && r.expected !== void 0 && received !== r.expected) {
      return `the last fragment ends the TLS message at ${received} bytes, ${r.expected} were announced`;
    }
    r.parts.push(req3.data);
    r.received = received;
    if (more) return void 0;
    this.#reassembly = void 0;
    return concat(r.parts, r.received);
  }
  #startTls() {
    this.#state = "running";
    this.#log.debug("eap", "EAP-TLS: starting the TLS handshake", {
      identity: this.#identity,
      serverName: this.#serverName,
      minVersion: this.#versions[0],
      maxVersion: this.#versions[1]
    });
    const wire = new WireDuplex((chunk) => {
      this.#activity++;
      this.#outbox.push(chunk);
    });
    wire.on("error", (err) => {
      this.#fail(eapError3(`TLS transport failed: ${err.message}`, err));
    });
    this.#wire = wire;
    let socket;
    try {
      socket = tls.connect({ ...this.#tlsOptions, socket: wire });
    } catch (e) {
      this.#fail(mapTlsError(e, this.#serverName, this.#haveCert));
      return;
    }
    this.#socket = socket;
    socket.on("secureConnect", () => {
      this.#activity++;
      this.#onSecureConnect(socket);
    });
    socket.on("data", (chunk) => {
      this.#activity++;
      this.#onApplicationData(chunk);
    });
    socket.on("error", (err) => {
      this.#activity++;
      this.#fail(mapTlsError(err, this.#serverName, this.#haveCert));
    });
    socket.on("end", () => {
      this.#activity++;
      if (!this.done()) this.#fail(eapError3("the server closed the TLS connection"));
    });
    socket.on("close", () => {
      this.#activity++;
      if (!this.done())
        this.#fail(eapError3("the TLS connection closed before the handshake completed"));
    });
  }
  #onSecureConnect(socket) {
    if (this.#state !== "running") return;
    if (!socket.authorized) {
      this.#fail(
        new VpnError(
          "ERR_CERT_UNTRUSTED",
          `EAP-TLS: the server's certificate is not trusted (${String(socket.authorizationError)})`
        )
      );
      return;
    }
    const protocol = socket.getProtocol();
    if (protocol !== "TLSv1.2" && protocol !== "TLSv1.3") {
      this.#fail(eapError3(`unexpected TLS version ${String(protocol)}`));
      return;
    }
    const exportKeyingMaterial = socket.exportKeyingMaterial.bind(socket);
    let keyMaterial;
    try {
      keyMaterial = protocol === "TLSv1.2" ? (
        // RFC 5216 §2.3: Key_Material = TLS-PRF-128(master_secret, "client EAP encryption",
        // client.random || server.random). node passes no context to
        // SSL_export_keying_material when none is given, and an RFC 5705 exporter without
        // context is exactly that PRF (the tests check it against the key log).
        exportKeyingMaterial(KEY_MATERIAL_LEN, TLS12_KEY_LABEL)
      ) : (
        // RFC 9190 §2.3: Key_Material = TLS-Exporter("EXPORTER_EAP_TLS_Key_Material",
        // Type-Code 0x0D, 128).
        exportKeyingMaterial(KEY_MATERIAL_LEN, TLS13_KEY_LABEL, Buffer.of(EAP_TYPE_TLS))
      );
    } catch (e) {
      this.#fail(eapError3(`deriving the MSK failed: ${errorMessage(e)}`, e));
      return;
    }
    this.#msk = Uint8Array.from(keyMaterial.subarray(0, MSK_LEN));
    keyMaterial.fill(0);
    this.#protocol = protocol;
    this.#handshakeDone = true;
    const cipher = socket.getCipher();
    this.#log.debug("eap", "EAP-TLS: TLS handshake complete, server certificate verified", {
      protocol,
      cipher: cipher.standardName,
      server: socket.getPeerX509Certificate()?.subject.replaceAll("\n", ", ")
    });
  }
  #onApplicationData(chunk) {
    if (this.#state !== "running") return;
    if (this.#protocol === "TLSv1.3" && this.#handshakeDone && !this.#committed && chunk.length === 1 && chunk[0] === 0) {
      this.#committed = true;
      this.#log.debug("eap", "EAP-TLS: received the TLS 1.3 commitment message");
      return;
    }
    this.#fail(
      eapError3(
        `the server sent ${chunk.length} byte${chunk.length === 1 ? "" : "s"} of unexpected TLS application data` + (this.#protocol === "TLSv1.3" ? " (RFC 9190 allows only the one-octet 0x00)" : "")
      )
    );
  }
  /** Waits until TLS has produced all it will for the input so far. */
  async #settle() {
    let seen = this.#activity;
    let idle = 0;
    for (let rounds = 0; idle < SETTLE_IDLE_ROUNDS; rounds++) {
      if (rounds >= SETTLE_MAX_ROUNDS) {
        this.#fail(eapError3("TLS did not settle"));
        return;
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#state !== "running") return;
      if (this.#activity !== seen) {
        seen = this.#activity;
        idle = 0;
      } else {
        idle++;
      }
    }
  }
  /** Answers Request `id` with what TLS wrote, or an empty Response when it wrote nothing. */
  #sendTlsOutput(id) {
    if (this.#state !== "running") return;
    const total = this.#outbox.reduce((n, b) => n + b.length, 0);
    const data = concat(this.#outbox, total);
    this.#outbox = [];
    if (data.length === 0) {
      this.#respond(encodePacket(EAP_CODE_RESPONSE, id, 0, void 0, data));
      return;
    }
    this.#outgoing = { data, offset: 0 };
    this.#sendNextFragment(id);
  }
  /**
   * RFC 5216 §2.1.5, §3.1: a message longer than the fragment size goes out in fragments, L and
   * the total length on the first, M on all but the last; one that fits goes out whole, without L.
   */
  #sendNextFragment(id) {
    const out = this.#outgoing;
    if (out === void 0) return;
    const first = out.offset === 0;
    const end = Math.min(out.offset + this.#fragmentSize, out.data.length);
    const chunk = out.data.subarray(out.offset, end);
    const last = end === out.data.length;
    const fragmented = !(first && last);
    let flags = 0;
    if (first && fragmented) flags |= EAP_TLS_FLAG_LENGTH;
    if (!last) flags |= EAP_TLS_FLAG_MORE;
    const packet = encodePacket(
      EAP_CODE_RESPONSE,
      id,
      flags,
      (flags & EAP_TLS_FLAG_LENGTH) !== 0 ? out.data.length : void 0,
      chunk
    );
    if (last) {
      this.#outgoing = void 0;
    } else {
      out.offset = end;
    }
    this.#log.debug("eap", "EAP-TLS Response", {
      id,
      flags: flagNames(flags),
      bytes: chunk.length,
      total: out.data.length
    });
    this.#respond(packet);
  }
  #respond(packet) {
    this.#busy = false;
    queueMicrotask(() => {
      if (this.#state === "closed" || this.#state === "failed") return;
      try {
        this.#onResponse(packet);
      } catch (e) {
        this.#log.error("eap", `EAP-TLS: the onResponse callback threw: ${errorMessage(e)}`);
      }
    });
  }
  #fail(error) {
    if (this.#state === "failed" || this.#state === "closed") return;
    this.#state = "failed";
    this.#busy = false;
    this.#log.debug("eap", "EAP-TLS failed", { code: error.code, message: error.message });
    this.#teardown();
    queueMicrotask(() => {
      if (this.#state === "closed") return;
      try {
        this.#onFailure(error);
      } catch (e) {
        this.#log.error("eap", `EAP-TLS: the onFailure callback threw: ${errorMessage(e)}`);
      }
    });
  }
  #teardown() {
    this.#outbox = [];
    this.#reassembly = void 0;
    this.#outgoing = void 0;
    this.#msk?.fill(0);
    this.#msk = void 0;
    const socket = this.#socket;
    const wire = this.#wire;
    this.#socket = void 0;
    this.#wire = void 0;
    socket?.destroy();
    wire?.destroy();
  }
};

// src/client/auth.ts
function checkGatewayNaming(gatewayName, remoteId) {
  if (gatewayName === false && remoteId === void 0) {
    throw new VpnError(
      "ERR_CONFIG",
      "--no-host-check needs --remote-id (library: gatewayName false needs remoteId): without the host name, only the gateway's expected identity ties its certificate to it; otherwise any certificate from a trusted CA would be accepted as the gateway"
    );
  }
}
function checkCredentials(cred, remoteId) {
  checkGatewayNaming(cred.gatewayName, remoteId);
  if (cred.eapOnly && cred.auth.kind === "eap" && !cred.auth.methods.includes("tls")) {
    throw new VpnError(
      "ERR_CONFIG",
      `--eap-only needs EAP-TLS among the --eap methods (library: eapOnly needs "tls"): a gateway that does not authenticate with AUTH may only run EAP-TLS; ${cred.auth.methods.join(", ")} would hand it our password or a response it can crack`
    );
  }
}
function credentialsForAttempt(cred, host, random, sink, log, remoteId) {
  checkCredentials(cred, remoteId);
  const gatewayName = cred.gatewayName === void 0 ? host : cred.gatewayName;
  const gatewayAuth = {};
  if (cred.auth.kind === "psk") gatewayAuth.psk = cred.auth.psk;
  if (cred.anchors) {
    gatewayAuth.certs = createCertValidator({
      anchors: cred.anchors,
      ...gatewayName === false ? {} : { host: gatewayName }
    });
  }
  if (cred.eapOnly) gatewayAuth.eapOnly = true;
  const a = cred.auth;
  switch (a.kind) {
    case "psk":
      return { auth: { kind: "psk", psk: a.psk }, gatewayAuth, close: () => void 0 };
    case "cert":
      return {
        auth: { kind: "pubkey", key: a.key, certs: a.certs },
        gatewayAuth,
        close: () => void 0
      };
    case "eap": {
      const asyncMethods = [];
      if (a.methods.includes("tls")) {
        asyncMethods.push(
          createEapTls({
            identity: a.identity,
            ca: cred.anchors ?? [],
            ...a.tlsCerts ? { cert: a.tlsCerts } : {},
            ...a.tlsKey ? { key: a.tlsKey } : {},
            ...gatewayName === false ? {} : { serverName: gatewayName },
            ...remoteId ? { serverIdentity: remoteId } : {},
            onResponse: (p) => sink.onResponse(p),
            onFailure: (e) => sink.onFailure(e),
            logger: log
          })
        );
      }
      const peer = createEapPeer({
        identity: new TextEncoder().encode(a.identity),
        ...a.password ? { password: a.password } : {},
        methods: a.methods,
        random,
        asyncMethods
      });
      return {
        auth: { kind: "eap", peer },
        gatewayAuth,
        close: () => {
          for (const m of asyncMethods) m.close();
        }
      };
    }
  }
}

// src/esp/native.ts
import { createRequire as createRequire2 } from "node:module";

// src/native/addons.ts
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
var req = createRequire(import.meta.url);
var ngb;
function nodeGypBuild() {
  if (ngb) return ngb;
  try {
    const m = req("node-gyp-build");
    if (typeof m.parseTags === "function" && typeof m.matchTuple === "function") {
      ngb = m;
    }
  } catch {
  }
  return ngb;
}
function packageRoot(from = dirname(fileURLToPath(import.meta.url))) {
  let dir = from;
  for (; ; ) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "binding.gyp"))) return dir;
    const up = dirname(dir);
    if (up === dir) return void 0;
    dir = up;
  }
}
function list(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
function target() {
  return {
    platform: process.env["npm_config_platform"] || process.platform,
    arch: process.env["npm_config_arch"] || process.arch
  };
}
function prebuildCandidates(name, root) {
  const g = nodeGypBuild();
  if (!g) return [];
  const { platform, arch } = target();
  const tuples = list(join(root, "prebuilds")).map((d) => g.parseTuple(d)).filter(g.matchTuple(platform, arch)).filter((t) => t !== void 0).sort((a, b) => g.compareTuples(a, b));
  const out = [];
  for (const t of tuples) {
    const dir = join(root, "prebuilds", t.name);
    const tags = list(dir).filter((f) => f.split(".")[0] === name).map((f) => g.parseTags(f)).filter(g.matchTags("node", process.versions.modules)).filter((x) => x !== void 0).sort(g.compareTags("node"));
    for (const x of tags) out.push(join(dir, x.file));
  }
  return out;
}
function addonCandidates(name, root = packageRoot()) {
  if (root === void 0) return [];
  const out = prebuildCandidates(name, root).map((path) => ({
    source: "prebuild",
    path
  }));
  const built = join(root, "build", "Release", `${name}.node`);
  if (existsSync(built)) {
    const local = { source: "build", path: built };
    if (existsSync(join(root, ".git"))) out.unshift(local);
    else out.push(local);
  }
  return out;
}
function noAddonReason(name, root = packageRoot()) {
  if (root === void 0) return "package root (package.json, binding.gyp) not found";
  const { platform, arch } = target();
  return `no prebuilt ${name} addon for ${platform}-${arch} in ${join(root, "prebuilds")} and ${join(root, "build", "Release", `${name}.node`)} is not built`;
}

// src/esp/replay.ts
var ReplayWindow = class {
  size;
  words;
  /** Highest sequence number committed so far (0 = none). */
  top = 0;
  constructor(size = 1024) {
    if (!Number.isInteger(size) || size < 32 || size % 32 !== 0 || (size & size - 1) !== 0) {
      throw new RangeError(`"size" expected a power of two ≥ 32, got ${size}`);
    }
    this.size = size;
    this.words = new Uint32Array(size / 32 + 1);
  }
  get highest() {
    return this.top;
  }
  /** May a packet with this sequence number be accepted? No state changes. */
  check(seq2) {
    if (seq2 === 0 || seq2 > 4294967295) return false;
    if (seq2 > this.top) return true;
    if (this.top - seq2 >= this.size) return false;
    const bit = seq2 & 31;
    const word = (seq2 >>> 5) % this.words.length;
    return (this.words[word] & 1 << bit) === 0;
  }
  /** Marks an authenticated sequence number as received and slides the window. */
  commit(seq2) {
    if (!this.check(seq2)) return;
    if (seq2 > this.top) {
      const oldWord = this.top >>> 5;
      const newWord = seq2 >>> 5;
      const diff = Math.min(newWord - oldWord, this.words.length);
      for (let i = 1; i <= diff; i++) this.words[(oldWord + i) % this.words.length] = 0;
      this.top = seq2;
    }
    this.words[(seq2 >>> 5) % this.words.length] |= 1 << (seq2 & 31);
  }
};

// src/esp/sa.ts
var ESP_HEADER_LENGTH = 8;
var ESP_IV_LENGTH = 8;
var ESP_DROP_REASONS = [
  "malformed",
  "no-sa",
  "replay",
  "auth",
  "bad-padding",
  "bad-next-header",
  "dummy",
  "seq-exhausted",
  "no-policy",
  "too-big"
];
var NEXT_HEADER = { IPV4: 4, IPV6: 41, NONE: 59 };
var SEQ_SOFT_LIMIT = 4026531840;
var SEQ_MAX = 4294967295;
var OutboundSa = class {
  spi;
  aead;
  /** Last sequence number used (0 before the first packet). */
  seq = 0;
  packets = 0;
  bytes = 0;
  header = new Uint8Array(ESP_HEADER_LENGTH);
  headerView = new DataView(this.header.buffer);
  iv = new Uint8Array(ESP_IV_LENGTH);
  ivView = new DataView(this.iv.buffer);
  constructor(p) {
    this.spi = p.spi >>> 0;
    this.aead = createAead(p.encrId, p.keymat);
    this.headerView.setUint32(0, this.spi);
  }
  get needsRekey() {
    return this.seq >= SEQ_SOFT_LIMIT;
  }
  /** Encapsulates one inner packet; never reuses a sequence number (RFC 4303 §3.3.3). */
  seal(payload, nextHeader) {
    if (this.seq >= SEQ_MAX) return { drop: "seq-exhausted" };
    const seq2 = ++this.seq;
    this.headerView.setUint32(4, seq2);
    this.ivView.setUint32(0, 0);
    this.ivView.setUint32(4, seq2);
    const padLen = 4 - (payload.length + 2 & 3) & 3;
    const pt = new Uint8Array(payload.length + padLen + 2);
    pt.set(payload);
    for (let i = 0; i < padLen; i++) pt[payload.length + i] = i + 1;
    pt[pt.length - 2] = padLen;
    pt[pt.length - 1] = nextHeader;
    const sealed = this.aead.seal(this.iv, this.header, pt);
    const out = new Uint8Array(ESP_HEADER_LENGTH + ESP_IV_LENGTH + sealed.length);
    out.set(this.header);
    out.set(this.iv, ESP_HEADER_LENGTH);
    out.set(sealed, ESP_HEADER_LENGTH + ESP_IV_LENGTH);
    this.packets++;
    this.bytes += payload.length;
    return out;
  }
  /** Test hook: start the counter elsewhere (exhaustion tests). */
  setSequenceForTest(seq2) {
    this.seq = seq2;
  }
  wipe() {
    wipe(this.iv);
  }
};
var InboundSa = class {
  spi;
  aead;
  replay;
  packets = 0;
  bytes = 0;
  constructor(p) {
    this.spi = p.spi >>> 0;
    this.aead = createAead(p.encrId, p.keymat);
    this.replay = new ReplayWindow(p.replayWindow ?? 1024);
  }
  /**
   * Decapsulates one ESP packet (RFC 4303 §3.4): length checks → replay check (no side effects)
   * → ICV verification and decryption → replay commit → padding and next header checks.
   */
  open(esp) {
    const icv = this.aead.icvLength;
    if (esp.length < ESP_HEADER_LENGTH + ESP_IV_LENGTH + 2 + icv) return { drop: "malformed" };
    const view = new DataView(esp.buffer, esp.byteOffset, esp.byteLength);
    if (view.getUint32(0) !== this.spi) return { drop: "no-sa" };
    const seq2 = view.getUint32(4);
    if (!this.replay.check(seq2)) return { drop: "replay" };
    const pt = this.aead.open(
      esp.subarray(ESP_HEADER_LENGTH, ESP_HEADER_LENGTH + ESP_IV_LENGTH),
      esp.subarray(0, ESP_HEADER_LENGTH),
      esp.subarray(ESP_HEADER_LENGTH + ESP_IV_LENGTH)
    );
    if (!pt) return { drop: "auth" };
    this.replay.commit(seq2);
    const nextHeader = pt[pt.length - 1];
    const padLen = pt[pt.length - 2];
    if (padLen + 2 > pt.length) return { drop: "bad-padding" };
    const end = pt.length - 2 - padLen;
    for (let i = 0; i < padLen; i++) if (pt[end + i] !== i + 1) return { drop: "bad-padding" };
    if (nextHeader === NEXT_HEADER.NONE) return { drop: "dummy" };
    if (nextHeader !== NEXT_HEADER.IPV4 && nextHeader !== NEXT_HEADER.IPV6)
      return { drop: "bad-next-header" };
    this.packets++;
    this.bytes += end;
    return { payload: pt.subarray(0, end), nextHeader };
  }
};

// src/esp/native.ts
var API_VERSION = 3;
var NATIVE_ICV_LENGTH = /* @__PURE__ */ new Map([
  [18, 8],
  // ENCR_AES_GCM_8 (RFC 4106)
  [19, 12],
  // ENCR_AES_GCM_12
  [20, 16],
  // ENCR_AES_GCM_16
  [28, 16]
  // ENCR_CHACHA20_POLY1305 (RFC 7634)
]);
var HEADER_AND_IV = 16;
var SEQ_MAX2 = 4294967295;
var SLAB_SIZE = 64 * 1024;
function drop(code) {
  return { drop: ESP_DROP_REASONS[code - 1] ?? "malformed" };
}
var loaded = /* @__PURE__ */ new Map();
var req2 = createRequire2(import.meta.url);
var defaultStatus;
function exists(path) {
  try {
    req2.resolve(path);
    return true;
  } catch {
    return false;
  }
}
function nativeEspStatus(options = {}) {
  if (options.enabled === false) return { available: false, reason: "turned off" };
  const byDefault = options.addonPath === void 0 && options.root === void 0;
  if (byDefault && defaultStatus) return defaultStatus;
  const candidates = options.addonPath !== void 0 ? [{ source: "path", path: options.addonPath }] : addonCandidates("esp", options.root);
  if (candidates.length === 0)
    return { available: false, reason: noAddonReason("esp", options.root) };
  const reasons = [];
  for (const { source, path } of candidates) {
    let entry = loaded.get(path);
    if (!entry) {
      entry = tryLoad(path);
      loaded.set(path, entry);
    }
    if ("addon" in entry) {
      const st = {
        available: true,
        path,
        source,
        opensslVersion: entry.addon.opensslVersion
      };
      if (byDefault) defaultStatus = st;
      return st;
    }
    reasons.push(entry.reason);
  }
  return { available: false, reason: reasons.join("; ") };
}
function tryLoad(path) {
  if (!exists(path)) return { reason: `${path} is not built` };
  try {
    const addon3 = req2(path);
    if (addon3.apiVersion !== API_VERSION) {
      return {
        reason: `${path} speaks version ${String(addon3.apiVersion)}, expected ${API_VERSION} (rebuild it)`
      };
    }
    return { addon: addon3, path };
  } catch (e) {
    return { reason: `cannot load ${path}: ${e instanceof Error ? e.message : String(e)}` };
  }
}
function loadNativeEsp(options = {}) {
  const status = nativeEspStatus(options);
  if (!status.available) return void 0;
  const entry = loaded.get(status.path);
  return entry && "addon" in entry ? entry.addon : void 0;
}
function nativeEspSupports(encrId) {
  return NATIVE_ICV_LENGTH.has(encrId);
}
var Shared = class {
  state = new Float64Array(5);
  meta = new Int32Array(3 * 64);
  slab = new Uint8Array(0);
  used = 0;
  /**
   * `n` bytes of the slab never handed out before (zeros, or what C wrote there for a packet that
   * was then not returned: a drop leaves zeros, only a failed OpenSSL call leaves ciphertext); a
   * fresh slab when this one is full.
   */
  take(n) {
    if (this.used + n > this.slab.length) {
      this.slab = new Uint8Array(Math.max(SLAB_SIZE, n));
      this.used = 0;
    }
    const view = this.slab.subarray(this.used, this.used + n);
    this.used += n + 7 & ~7;
    return view;
  }
  /** Gives back the last `take` (nothing was written to it). */
  untake(view) {
    if (view.buffer === this.slab.buffer) this.used = view.byteOffset;
  }
  /** The meta array for a batch of n (grown, never shrunk; results are read before reuse). */
  metaFor(n) {
    if (this.meta.length < 3 * n)
      this.meta = new Int32Array(3 * Math.max(n, 2 * this.meta.length / 3));
    return this.meta;
  }
};
var NativeOutboundSa = class _NativeOutboundSa {
  spi;
  addon;
  handle;
  shared = new Shared();
  icv;
  constructor(addon3, handle, spi, icv) {
    this.addon = addon3;
    this.handle = handle;
    this.spi = spi;
    this.icv = icv;
  }
  /**
   * A native outbound SA, or undefined when the fast path cannot take it (addon missing or off,
   * transform not implemented): build an OutboundSa then.
   * @throws RangeError for a keymat that does not fit the transform, as OutboundSa does.
   */
  static create(p, options = {}) {
    if (!NATIVE_ICV_LENGTH.has(p.encrId)) return void 0;
    const addon3 = loadNativeEsp(options);
    if (!addon3) return void 0;
    const spi = p.spi >>> 0;
    const handle = addon3.create(false, p.encrId, p.keymat, spi, 0);
    const icv = NATIVE_ICV_LENGTH.get(p.encrId);
    return handle ? new _NativeOutboundSa(addon3, handle, spi, icv) : void 0;
  }
  /** Last sequence number used (0 before the first packet). */
  get seq() {
    return this.shared.state[0];
  }
  get packets() {
    return this.shared.state[1];
  }
  get bytes() {
    return this.shared.state[2];
  }
  get needsRekey() {
    return this.seq >= SEQ_SOFT_LIMIT;
  }
  /** Encapsulates one inner packet; never reuses a sequence number (RFC 4303 §3.3.3). */
  seal(payload, nextHeader) {
    const shared = this.shared;
    if (shared.state[0] >= SEQ_MAX2) return drop(8);
    const len = payload.length;
    const out = shared.take(HEADER_AND_IV + len + (4 - (len + 2 & 3) & 3) + 2 + this.icv);
    let code;
    try {
      code = this.addon.seal(this.handle, payload, nextHeader, shared.state, out);
    } catch (e) {
      shared.untake(out);
      throw e;
    }
    if (code === 0) return out;
    shared.untake(out);
    return drop(code);
  }
  /**
   * Encapsulates a batch: the same as `seal` on each payload in order (one next header for all,
   * or one per payload). The packets are views into one ArrayBuffer.
   */
  sealBatch(payloads, nextHeaders) {
    const n = payloads.length;
    const meta = this.shared.metaFor(n);
    const buf = this.addon.sealBatch(this.handle, payloads, nextHeaders, meta, this.shared.state);
    const out = [];
    for (let i = 0; i < n; i++) {
      const off = meta[3 * i];
      out.push(off < 0 ? drop(-off) : new Uint8Array(buf, off, meta[3 * i + 1]));
    }
    return out;
  }
  /** Test hook: start the counter elsewhere (exhaustion tests). */
  setSequenceForTest(seq2) {
    this.addon.setSequence(this.handle, seq2, this.shared.state);
  }
  /** Frees the cipher context and zeroes the key material; the SA cannot be used afterwards. */
  wipe() {
    this.addon.wipe(this.handle);
  }
};
var NativeInboundSa = class _NativeInboundSa {
  spi;
  replay;
  addon;
  handle;
  shared = new Shared();
  icv;
  constructor(addon3, handle, spi, size, icv) {
    this.addon = addon3;
    this.handle = handle;
    this.spi = spi;
    this.icv = icv;
    const state = this.shared.state;
    this.replay = {
      size,
      get highest() {
        return state[0];
      },
      check: (seq2) => addon3.replayCheck(handle, seq2),
      commit: (seq2) => {
        if (Number.isInteger(seq2) && seq2 >= 1 && seq2 <= 4294967295) {
          addon3.replayCommit(handle, seq2, state);
        }
      }
    };
  }
  /**
   * A native inbound SA, or undefined when the fast path cannot take it (build an InboundSa
   * then).
   * @throws RangeError for a keymat that does not fit the transform or a replay window that is
   *   not a power of two ≥ 32, as InboundSa does.
   */
  static create(p, options = {}) {
    if (!NATIVE_ICV_LENGTH.has(p.encrId)) return void 0;
    const addon3 = loadNativeEsp(options);
    if (!addon3) return void 0;
    const spi = p.spi >>> 0;
    const size = p.replayWindow ?? 1024;
    if (!Number.isInteger(size) || size < 32 || (size & size - 1) !== 0) {
      throw new RangeError(`"size" expected a power of two ≥ 32, got ${size}`);
    }
    const handle = addon3.create(true, p.encrId, p.keymat, spi, size);
    const icv = NATIVE_ICV_LENGTH.get(p.encrId);
    return handle ? new _NativeInboundSa(addon3, handle, spi, size, icv) : void 0;
  }
  get packets() {
    return this.shared.state[1];
  }
  get bytes() {
    return this.shared.state[2];
  }
  /**
   * Decapsulates one ESP packet (RFC 4303 §3.4): length checks → replay check (no side effects)
   * → ICV verification and decryption → replay commit → padding and next header checks.
   */
  open(esp) {
    const shared = this.shared;
    const ctLength = esp.length - HEADER_AND_IV - this.icv;
    if (ctLength < 2 && esp instanceof Uint8Array) return drop(1);
    const out = shared.take(Math.max(ctLength, 0));
    let code;
    try {
      code = this.addon.open(this.handle, esp, shared.state, out);
    } catch (e) {
      shared.untake(out);
      throw e;
    }
    if (code !== 0) {
      shared.untake(out);
      return drop(code);
    }
    return { payload: out.subarray(0, shared.state[4]), nextHeader: shared.state[3] };
  }
  /**
   * Decapsulates a batch: the same as `open` on each packet in order (a duplicate later in the
   * batch is a replay). The payloads are views into one ArrayBuffer.
   */
  openBatch(packets) {
    const n = packets.length;
    const meta = this.shared.metaFor(n);
    const buf = this.addon.openBatch(this.handle, packets, meta, this.shared.state);
    const out = [];
    for (let i = 0; i < n; i++) {
      const off = meta[3 * i];
      out.push(
        off < 0 ? drop(-off) : { payload: new Uint8Array(buf, off, meta[3 * i + 1]), nextHeader: meta[3 * i + 2] }
      );
    }
    return out;
  }
  /** Frees the cipher context and zeroes the key material; the SA cannot be used afterwards. */
  wipe() {
    this.addon.wipe(this.handle);
  }
};
function createNativeOutboundSa(p, options = {}) {
  return NativeOutboundSa.create(p, options);
}
function createNativeInboundSa(p, options = {}) {
  return NativeInboundSa.create(p, options);
}

// src/esp/policy.ts
function matchOne(ts, addr, protocol, port) {
  if (!addrInRange(addr, ts.startAddr, ts.endAddr)) return false;
  if (ts.protocol !== 0 && ts.protocol !== protocol) return false;
  if (ts.startPort === 0 && ts.endPort === 65535) return true;
  return port >= ts.startPort && port <= ts.endPort;
}
function matchesOutbound(p, pkt) {
  return p.local.some((t) => matchOne(t, pkt.src, pkt.protocol, pkt.srcPort)) && p.remote.some((t) => matchOne(t, pkt.dst, pkt.protocol, pkt.dstPort));
}
function matchesInbound(p, pkt) {
  return p.remote.some((t) => matchOne(t, pkt.src, pkt.protocol, pkt.srcPort)) && p.local.some((t) => matchOne(t, pkt.dst, pkt.protocol, pkt.dstPort));
}

// src/esp/engine.ts
var MAX_INBOUND_SAS = 8;
var MAX_OUTBOUND_SAS = 4;
var EspEngine = class {
  limits;
  native;
  outbound = [];
  inbound = /* @__PURE__ */ new Map();
  drops = {};
  packetsOut = 0;
  bytesOut = 0;
  packetsIn = 0;
  bytesIn = 0;
  /**
   * SPIs of SAs that passed their soft sequence limit or a volume limit, in either direction:
   * the IKE layer should rekey their CHILD_SA.
   */
  rekeyNeeded = /* @__PURE__ */ new Set();
  constructor(options = {}) {
    this.limits = {
      ...options.bytes !== void 0 ? { bytes: options.bytes } : {},
      ...options.packets !== void 0 ? { packets: options.packets } : {}
    };
    this.native = options.native ?? { enabled: false };
  }
  /** Whether the SAs installed last use the native path. */
  get usesNative() {
    return this.outbound[0]?.sa instanceof NativeOutboundSa;
  }
  overVolume(sa) {
    const l = this.limits;
    return l.bytes !== void 0 && sa.bytes >= l.bytes || l.packets !== void 0 && sa.packets >= l.packets;
  }
  /**
   * Installs an inbound SA (one with the same SPI is replaced).
   * @throws RangeError for a ninth inbound SA (MAX_INBOUND_SAS), as the native data plane does.
   */
  addInbound(params2, policy) {
    if (!this.inbound.has(params2.spi >>> 0) && this.inbound.size >= MAX_INBOUND_SAS)
      throw new RangeError(`too many inbound SAs (at most ${MAX_INBOUND_SAS})`);
    const entry = {
      sa: createNativeInboundSa(params2, this.native) ?? new InboundSa(params2)
    };
    if (policy) entry.policy = policy;
    this.inbound.set(params2.spi >>> 0, entry);
  }
  removeInbound(spi) {
    this.inbound.delete(spi >>> 0);
    this.rekeyNeeded.delete(spi >>> 0);
  }
  /**
   * Installs an outbound SA with its policy. The newest SA wins for sending; inbound SAs added
   * without a policy adopt this one (they belong to the same CHILD_SA). Beyond MAX_OUTBOUND_SAS
   * the oldest is evicted and wiped (it no longer sends anyway: the newest matching SA wins).
   */
  setOutbound(params2, policy) {
    this.outbound.unshift({
      sa: createNativeOutboundSa(params2, this.native) ?? new OutboundSa(params2),
      policy
    });
    while (this.outbound.length > MAX_OUTBOUND_SAS) this.outbound.pop()?.sa.wipe();
    for (const e of this.inbound.values()) e.policy ??= policy;
  }
  removeOutbound(spi) {
    const i = this.outbound.findIndex((e) => e.sa.spi === spi >>> 0);
    if (i >= 0) this.outbound.splice(i, 1);
    this.rekeyNeeded.delete(spi >>> 0);
  }
  clear() {
    for (const e of this.outbound) e.sa.wipe();
    this.outbound.length = 0;
    this.inbound.clear();
  }
  count(reason) {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    return { drop: reason };
  }
  encapsulate(ip) {
    const info = peekPacket(ip);
    if (!info) return this.count("malformed");
    for (const e of this.outbound) {
      if (!matchesOutbound(e.policy, info)) continue;
      const r = e.sa.seal(ip, info.version === 4 ? NEXT_HEADER.IPV4 : NEXT_HEADER.IPV6);
      if (r instanceof Uint8Array) {
        this.packetsOut++;
        this.bytesOut += ip.length;
        if (e.sa.needsRekey || this.overVolume(e.sa)) this.rekeyNeeded.add(e.sa.spi);
        return r;
      }
      return this.count(r.drop);
    }
    return this.count("no-policy");
  }
  /**
   * Encapsulates a batch (one TUN wakeup): the policy lookup per packet, then one native call per
   * SA for all its packets. Results are in input order, as `encapsulate` would give them.
   */
  encapsulateBatch(ips) {
    const out = new Array(ips.length);
    const groups = /* @__PURE__ */ new Map();
    for (let i = 0; i < ips.length; i++) {
      const ip = ips[i];
      const info = peekPacket(ip);
      if (!info) {
        out[i] = this.count("malformed");
        continue;
      }
      const e = this.outbound.find((x) => matchesOutbound(x.policy, info));
      if (!e) {
        out[i] = this.count("no-policy");
        continue;
      }
      let g = groups.get(e);
      if (!g) groups.set(e, g = { idx: [], pkts: [], nh: [] });
      g.idx.push(i);
      g.pkts.push(ip);
      g.nh.push(info.version === 4 ? NEXT_HEADER.IPV4 : NEXT_HEADER.IPV6);
    }
    for (const [e, g] of groups) {
      const sealed = e.sa instanceof NativeOutboundSa ? e.sa.sealBatch(g.pkts, g.nh) : g.pkts.map((p, j) => e.sa.seal(p, g.nh[j]));
      sealed.forEach((r, j) => {
        const i = g.idx[j];
        if (r instanceof Uint8Array) {
          this.packetsOut++;
          this.bytesOut += g.pkts[j].length;
          out[i] = r;
        } else out[i] = this.count(r.drop);
      });
      if (e.sa.needsRekey || this.overVolume(e.sa)) this.rekeyNeeded.add(e.sa.spi);
    }
    return out;
  }
  decapsulate(esp) {
    if (esp.length < 8) return this.count("malformed");
    const spi = new DataView(esp.buffer, esp.byteOffset, esp.byteLength).getUint32(0);
    const entry = this.inbound.get(spi);
    if (!entry) return this.count("no-sa");
    const r = entry.sa.open(esp);
    if ("drop" in r) return this.count(r.drop);
    const info = peekPacket(r.payload);
    if (!info || info.version === 4 !== (r.nextHeader === NEXT_HEADER.IPV4))
      return this.count("malformed");
    if (entry.policy && !matchesInbound(entry.policy, info)) return this.count("no-policy");
    this.packetsIn++;
    this.bytesIn += r.payload.length;
    if (this.overVolume(entry.sa)) this.rekeyNeeded.add(spi);
    return { packet: r.payload };
  }
  counters() {
    return {
      packetsOut: this.packetsOut,
      bytesOut: this.bytesOut,
      packetsIn: this.packetsIn,
      bytesIn: this.bytesIn,
      ...this.drops
    };
  }
  get inboundCount() {
    return this.inbound.size;
  }
  get outboundCount() {
    return this.outbound.length;
  }
};

// src/client/datapath-js.ts
var JsDataPath = class _JsDataPath {
  kind = "js";
  engine;
  io;
  tun;
  events;
  udp;
  peer;
  carrying = false;
  lastEspIn = 0;
  lastEspOut = 0;
  espPath = "js";
  constructor(io, tun, events, limits) {
    this.io = io;
    this.tun = tun;
    this.events = events;
    this.engine = new EspEngine(limits);
  }
  static async open(o) {
    const self = new _JsDataPath(o.io, o.tun, o.events, o.limits);
    self.udp = await o.io.openUdp(o.family, 0, {
      onIke: (data, from) => o.events.onIke(data, from),
      onEsp: (data) => self.onEsp(data),
      onError: (err) => o.events.onSocketError(err)
    });
    o.tun.onPackets((pkts) => self.onTunPackets(pkts));
    o.tun.onError?.((err) => o.events.onFailure(err));
    return self;
  }
  get localPort() {
    return this.udp?.localPort ?? 0;
  }
  get udpCounters() {
    return this.udp?.counters ?? { keepalivesIn: 0, invalid: 0, sendErrors: 0 };
  }
  sendIke(data, to, marker) {
    this.udp?.sendIke(data, to, marker);
  }
  sendKeepalive(to) {
    this.udp?.sendKeepalive(to);
  }
  setPeer(to) {
    this.peer = { address: to.address, port: to.port };
  }
  setCarrying(on) {
    this.carrying = on;
  }
  installChild(inbound, outbound, policy) {
    this.engine.addInbound(inbound);
    this.engine.setOutbound(outbound, policy);
  }
  removeChild(inboundSpi, outboundSpi) {
    this.engine.removeInbound(inboundSpi);
    this.engine.removeOutbound(outboundSpi);
  }
  espInAt() {
    return this.lastEspIn;
  }
  espOutAt() {
    return this.lastEspOut;
  }
  counters() {
    return this.engine.counters();
  }
  onTunPackets(pkts) {
    const udp = this.udp;
    const to = this.peer;
    if (!udp || !to || !this.carrying) return;
    let sent = false;
    for (const r of this.engine.encapsulateBatch(pkts)) {
      if (r instanceof Uint8Array) {
        udp.sendEsp(r, to);
        sent = true;
      }
    }
    if (sent) this.lastEspOut = this.io.now();
    for (const spi of this.engine.rekeyNeeded) this.events.onRekeyNeeded(spi);
  }
  onEsp(data) {
    const r = this.engine.decapsulate(data);
    if ("packet" in r) {
      this.lastEspIn = this.io.now();
      this.tun.write(r.packet);
    }
    for (const spi of this.engine.rekeyNeeded) this.events.onRekeyNeeded(spi);
  }
  close() {
    this.udp?.close();
    this.engine.clear();
  }
};

// src/fastpath/dataplane.ts
var DATA_PLANE_DROP_REASONS = [
  ...ESP_DROP_REASONS,
  "no-tun",
  "no-peer",
  "crypto-error"
];
var TUN_F = { csum: 1, tso4: 2, tso6: 4, uso4: 32, uso6: 64 };
var DATA_PLANE_STATS_FIELDS = [
  "packetsOut",
  "bytesOut",
  "packetsIn",
  "bytesIn",
  "msSinceEspOut",
  "msSinceEspIn",
  "keepalivesIn",
  "sendErrors",
  "tunReadErrors",
  "tunWriteErrors",
  "eventsDropped",
  "batchesOut",
  "batchesIn",
  // drops by reason, from here on
  ...DATA_PLANE_DROP_REASONS
];
var FIRST_DROP = 13;
var EV_DATAGRAM = 1;
var EV_REKEY = 2;
var EV_FATAL = 3;
function isDataPlaneAddon(a) {
  return typeof a.dpOpen === "function";
}
function dataPlaneStatus(opts2 = {}) {
  if (process.platform !== "linux") return { available: false, reason: "Linux only" };
  const st = nativeEspStatus(opts2);
  if (!st.available) return { available: false, reason: st.reason };
  const addon3 = loadNativeEsp(opts2);
  if (!addon3 || !isDataPlaneAddon(addon3)) {
    return { available: false, reason: "the esp addon has no data plane (rebuild it)" };
  }
  const fields = addon3.dpStatsFields;
  if (!Array.isArray(fields) || fields.length !== DATA_PLANE_STATS_FIELDS.length || fields.some((f, i) => f !== DATA_PLANE_STATS_FIELDS[i])) {
    return { available: false, reason: "the esp addon has another stats layout (rebuild it)" };
  }
  return { available: true };
}
function loadDataPlaneAddon(opts2 = {}) {
  if (!dataPlaneStatus(opts2).available) return void 0;
  const addon3 = loadNativeEsp(opts2);
  return addon3 && isDataPlaneAddon(addon3) ? addon3 : void 0;
}
var SELECTOR_LENGTH = 40;
function checkSelector(ts) {
  const n = ts.startAddr.length;
  if (n !== 4 && n !== 16 || ts.endAddr.length !== n) {
    throw new VpnError("ERR_ARG", "traffic selector: addresses must both be IPv4 or both IPv6");
  }
  const port = (p) => Number.isInteger(p) && p >= 0 && p <= 65535;
  if (!Number.isInteger(ts.protocol) || ts.protocol < 0 || ts.protocol > 255) {
    throw new VpnError("ERR_ARG", `traffic selector: bad protocol ${ts.protocol}`);
  }
  if (!port(ts.startPort) || !port(ts.endPort)) {
    throw new VpnError("ERR_ARG", `traffic selector: bad ports ${ts.startPort}-${ts.endPort}`);
  }
}
function encodePolicy(p) {
  const all = [
    ...p.local.map((t) => [0, t]),
    ...p.remote.map((t) => [1, t])
  ];
  if (all.length > 256) throw new VpnError("ERR_ARG", "policy: more than 256 traffic selectors");
  const out = new Uint8Array(all.length * SELECTOR_LENGTH);
  all.forEach(([side, ts], i) => {
    checkSelector(ts);
    const o = i * SELECTOR_LENGTH;
    out[o] = side;
    out[o + 1] = ts.startAddr.length === 4 ? 4 : 6;
    out[o + 2] = ts.protocol;
    out.set(ts.startAddr, o + 4);
    out.set(ts.endAddr, o + 20);
    out[o + 36] = ts.startPort >> 8;
    out[o + 37] = ts.startPort & 255;
    out[o + 38] = ts.endPort >> 8;
    out[o + 39] = ts.endPort & 255;
  });
  return out;
}
function errorCode(e) {
  const code = e?.code;
  return typeof code === "string" ? code : void 0;
}
var DataPlane = class _DataPlane {
  addon;
  handle;
  statsBuf = new Float64Array(DATA_PLANE_STATS_FIELDS.length);
  /** The outbound SAs we made and installed, newest first (the native list's order). */
  outbound = [];
  inbound = /* @__PURE__ */ new Map();
  closed = false;
  constructor(addon3, handle) {
    this.addon = addon3;
    this.handle = handle;
  }
  /**
   * Binds the socket (family, `localPort`; 0 = ephemeral) and starts the inbound thread; the
   * outbound thread starts with `attachTun`. `limits`: rekey after this many bytes / packets per SA
   * (RFC 4301 §4.4.2.1), as EspEngine.
   * @throws VpnError ERR_CONFIG when the addon (or its data plane) is unavailable or the port
   *   cannot be bound.
   */
  static open(family, localPort, events, limits = {}, opts2 = {}) {
    const status = dataPlaneStatus(opts2);
    const addon3 = loadDataPlaneAddon(opts2);
    if (!status.available || !addon3) {
      const reason = status.available ? "not loadable" : status.reason;
      throw new VpnError("ERR_CONFIG", `native data plane unavailable: ${reason}`);
    }
    const self = {};
    const onEvent = (kind, a, b, c) => {
      if (!self.dp || self.dp.closed) return;
      switch (kind) {
        case EV_DATAGRAM: {
          const buf = a;
          const data = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
          events.onDatagram(data, { address: b, port: c });
          return;
        }
        case EV_REKEY:
          events.onRekeyNeeded(a);
          return;
        case EV_FATAL: {
          const message = `data plane: ${String(a)}`;
          const err = b === "tun" ? new VpnError("ERR_TUN", message) : Object.assign(new Error(message), { code: String(c) });
          events.onError(err);
          return;
        }
        default:
          return;
      }
    };
    const lim = {};
    if (limits.bytes !== void 0) lim.bytes = limits.bytes;
    if (limits.packets !== void 0) lim.packets = limits.packets;
    let handle;
    try {
      handle = addon3.dpOpen(family, localPort, lim, onEvent);
    } catch (e) {
      const code = errorCode(e);
      if (code !== void 0 && /^E[A-Z]+$/.test(code)) {
        throw new VpnError(
          "ERR_CONFIG",
          `cannot bind UDP port ${localPort}: ${e instanceof Error ? e.message : String(e)}`,
          { cause: e }
        );
      }
      throw e;
    }
    self.dp = new _DataPlane(addon3, handle);
    return self.dp;
  }
  get localPort() {
    return this.addon.dpLocalPort(this.handle);
  }
  get isClosed() {
    return this.closed;
  }
  /** Sends a datagram from the data plane's socket (IKE with its marker, keepalives). */
  send(data, to) {
    if (this.closed) return false;
    return this.addon.dpSend(this.handle, data, to.address, to.port) >= 0;
  }
  /** Where ESP goes from now on (NAT-T port floating, MOBIKE). */
  setPeer(to) {
    this.checkOpen();
    this.addon.dpSetPeer(this.handle, to.address, to.port);
  }
  /**
   * Starts the outbound thread on this TUN descriptor (IFF_TUN | IFF_NO_PI). The inbound thread
   * writes to it from now on. Close the descriptor only after `close`.
   */
  attachTun(fd, offloads = 0) {
    this.checkOpen();
    this.addon.dpAttachTun(this.handle, fd, offloads);
  }
  /**
   * Installs an outbound SA (the newest wins among those whose policy matches a packet); of more
   * than 4 the oldest is evicted and wiped.
   * @throws VpnError ERR_CONFIG when the transform is not one the native path implements.
   */
  setOutbound(params2, policy) {
    this.checkOpen();
    const blob = encodePolicy(policy);
    const spi = params2.spi >>> 0;
    const sa = this.create(false, params2, 0);
    let evicted;
    try {
      evicted = this.addon.dpSetOutbound(this.handle, sa, blob);
    } catch (e) {
      this.addon.wipe(sa);
      throw e;
    }
    this.outbound.unshift({ spi, sa });
    if (evicted) {
      const i = this.outbound.findIndex((e) => e.sa === evicted);
      if (i >= 0) this.outbound.splice(i, 1);
      this.addon.wipe(evicted);
    }
  }
  /** Removes (and wipes) the newest outbound SA with this SPI; no thread uses it any more. */
  removeOutbound(spi) {
    if (this.closed) return;
    if (!this.addon.dpRemoveOutbound(this.handle, spi >>> 0)) return;
    const i = this.outbound.findIndex((e2) => e2.spi === spi >>> 0);
    if (i < 0) return;
    const [e] = this.outbound.splice(i, 1);
    if (e) this.addon.wipe(e.sa);
  }
  /**
   * Installs an inbound SA (found by SPI; one with the same SPI is replaced and wiped) with the
   * policy its packets must match (RFC 4301 §5.2). At most 8.
   * @throws VpnError ERR_CONFIG when the transform is not one the native path implements;
   *   RangeError for a bad keymat or replay window, or a ninth SA.
   */
  addInbound(params2, policy) {
    this.checkOpen();
    const blob = encodePolicy(policy);
    const spi = params2.spi >>> 0;
    const sa = this.create(true, params2, params2.replayWindow ?? 1024);
    let replaced;
    try {
      replaced = this.addon.dpAddInbound(this.handle, sa, blob);
    } catch (e) {
      this.addon.wipe(sa);
      throw e;
    }
    this.inbound.set(spi, sa);
    if (replaced) this.addon.wipe(replaced);
  }
  /** Removes (and wipes) the inbound SA with this SPI; no thread uses it any more. */
  removeInbound(spi) {
    if (this.closed) return;
    if (!this.addon.dpRemoveInbound(this.handle, spi >>> 0)) return;
    const sa = this.inbound.get(spi >>> 0);
    this.inbound.delete(spi >>> 0);
    if (sa) this.addon.wipe(sa);
  }
  /** The counters (readable after close too). */
  stats() {
    const s = this.statsBuf;
    this.addon.dpStats(this.handle, s);
    const drops = {};
    for (let i = FIRST_DROP; i < DATA_PLANE_STATS_FIELDS.length; i++) {
      drops[DATA_PLANE_STATS_FIELDS[i]] = s[i];
    }
    const out = {
      packetsOut: s[0],
      bytesOut: s[1],
      packetsIn: s[2],
      bytesIn: s[3],
      keepalivesIn: s[6],
      sendErrors: s[7],
      tunReadErrors: s[8],
      tunWriteErrors: s[9],
      eventsDropped: s[10],
      batchesOut: s[11],
      batchesIn: s[12],
      drops
    };
    if (s[4] >= 0) out.msSinceEspOut = s[4];
    if (s[5] >= 0) out.msSinceEspIn = s[5];
    const o = this.addon.dpOffloadStats?.(this.handle);
    if (o && (o[0] > 0 || (o[7] ?? 0) > 0)) {
      const bits = o[0];
      out.offloads = {
        csum: (bits & TUN_F.csum) !== 0,
        tso4: (bits & TUN_F.tso4) !== 0,
        tso6: (bits & TUN_F.tso6) !== 0,
        uso4: (bits & TUN_F.uso4) !== 0,
        uso6: (bits & TUN_F.uso6) !== 0,
        superPackets: o[1],
        segments: o[2],
        drops: o[3],
        groPackets: o[4] ?? 0,
        groSegments: o[5] ?? 0,
        groChecksumErrors: o[6] ?? 0,
        udpGro: (o[7] ?? 0) > 0,
        udpGroDatagrams: o[8] ?? 0,
        udpGroSegments: o[9] ?? 0,
        groRefused: (o[10] ?? 0) > 0
      };
    }
    return out;
  }
  /**
   * Stops both threads, closes the socket (not the TUN descriptor) and wipes every SA this data
   * plane made. Idempotent; may be called from inside an event handler.
   */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.addon.dpClose(this.handle);
    for (const e of this.outbound) this.addon.wipe(e.sa);
    for (const sa of this.inbound.values()) this.addon.wipe(sa);
    this.outbound.length = 0;
    this.inbound.clear();
  }
  checkOpen() {
    if (this.closed) throw new VpnError("ERR_CONFIG", "the data plane is closed");
  }
  create(inbound, p, replayWindow) {
    if (!nativeEspSupports(p.encrId)) {
      throw new VpnError(
        "ERR_CONFIG",
        `ESP transform ${p.encrId} is not implemented by the native data plane (AES-GCM, ChaCha20-Poly1305 only)`
      );
    }
    const sa = this.addon.create(inbound, p.encrId, p.keymat, p.spi >>> 0, replayWindow);
    if (!sa) {
      throw new VpnError(
        "ERR_CONFIG",
        `ESP transform ${p.encrId} is not available in this OpenSSL (${this.addon.opensslVersion})`
      );
    }
    return sa;
  }
};

// src/net/natt.ts
var NAT_KEEPALIVE = Uint8Array.of(255);
function classifyUdp4500(d) {
  if (d.length === 1 && d[0] === 255) return { kind: "keepalive" };
  if (d.length < 8) return { kind: "invalid" };
  if (d[0] === 0 && d[1] === 0 && d[2] === 0 && d[3] === 0)
    return { kind: "ike", data: d.subarray(4) };
  return { kind: "esp", data: d };
}
function addNonEspMarker(ike) {
  const out = new Uint8Array(ike.length + 4);
  out.set(ike, 4);
  return out;
}

// src/net/udp.ts
import { createSocket } from "node:dgram";
import { isIP as isIP2 } from "node:net";
function dispatchDatagram(data, from, handlers, counters) {
  if (from.port === 500) {
    handlers.onIke(data, from);
    return;
  }
  const c = classifyUdp4500(data);
  switch (c.kind) {
    case "keepalive":
      counters.keepalivesIn++;
      return;
    case "ike":
      handlers.onIke(c.data, from);
      return;
    case "esp":
      handlers.onEsp(c.data, from);
      return;
    case "invalid":
      counters.invalid++;
      return;
  }
}
var UdpTransport = class _UdpTransport {
  socket;
  counters = { keepalivesIn: 0, invalid: 0, sendErrors: 0 };
  closed = false;
  constructor(socket) {
    this.socket = socket;
  }
  /** Binds a socket of the gateway's address family on `localPort` (0 = ephemeral). */
  static async open(family, localPort, handlers) {
    const socket = createSocket({
      type: family === 6 ? "udp6" : "udp4",
      recvBufferSize: 4 << 20,
      sendBufferSize: 4 << 20
    });
    const t = new _UdpTransport(socket);
    socket.on("message", (msg, rinfo) => {
      const from = { address: rinfo.address, port: rinfo.port };
      const data = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      dispatchDatagram(data, from, handlers, t.counters);
    });
    socket.on("error", (e) => handlers.onError(e));
    await new Promise((resolve, reject) => {
      const onErr = (e) => {
        reject(
          new VpnError("ERR_CONFIG", `cannot bind UDP port ${localPort}: ${e.message}`, {
            cause: e
          })
        );
      };
      socket.once("error", onErr);
      socket.bind(localPort, () => {
        socket.off("error", onErr);
        resolve();
      });
    });
    return t;
  }
  get localPort() {
    return this.socket.address().port;
  }
  /** Sends an IKE message, with the non-ESP marker when it goes to the NAT-T port. */
  sendIke(data, to, marker) {
    this.send(marker ? addNonEspMarker(data) : data, to);
  }
  sendEsp(data, to) {
    this.send(data, to);
  }
  sendKeepalive(to) {
    this.send(NAT_KEEPALIVE, to);
  }
  send(data, to) {
    if (this.closed) return;
    this.socket.send(data, to.port, to.address, (err) => {
      if (err) this.counters.sendErrors++;
    });
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
};
async function localAddressFor(remote) {
  const family = isIP2(remote.address);
  if (family === 0) throw new VpnError("ERR_ARG", `"${remote.address}" is not an IP address`);
  const s = createSocket(family === 6 ? "udp6" : "udp4");
  try {
    await new Promise((resolve, reject) => {
      s.once("error", reject);
      s.connect(remote.port, remote.address, () => resolve());
    });
    return s.address().address;
  } catch (e) {
    throw new VpnError(
      "ERR_RESOLVE",
      `no route to gateway ${remote.address}: ${e.message}`,
      { cause: e }
    );
  } finally {
    s.close();
  }
}

// src/client/datapath-native.ts
function nativeDataPathLikely(fastPath, espProposals) {
  if (!fastPath) return false;
  if (!espProposals.every((p) => p.encr.every((a) => nativeEspSupports(a.id)))) return false;
  return dataPlaneStatus().available;
}
function nativeDataPathStatus(fastPath, tun, espProposals) {
  if (!fastPath) return { available: false, reason: "turned off" };
  if (tun.fd === void 0) return { available: false, reason: "the TUN device has no descriptor" };
  if (!espProposals.every((p) => p.encr.every((a) => nativeEspSupports(a.id))))
    return { available: false, reason: "an ESP proposal it does not implement" };
  const s = dataPlaneStatus();
  return s.available ? { available: true } : { available: false, reason: s.reason };
}
var NativeDataPath = class _NativeDataPath {
  kind = "threaded";
  espPath = "threaded";
  /** Datagrams JavaScript saw (IKE, and anything the data plane passed up) and send failures. */
  own = { keepalivesIn: 0, invalid: 0, sendErrors: 0 };
  peer;
  closed = false;
  dp;
  constructor(dp) {
    this.dp = dp;
  }
  /**
   * Binds the data plane's socket (family of the gateway, ephemeral port), starts its inbound
   * thread and hands it the TUN descriptor (its outbound thread starts reading it).
   * @throws VpnError ERR_CONFIG when the port cannot be bound, or the addon is unavailable.
   */
  static open(family, tunFd, events, limits, tunOffloads = 0) {
    const self = {};
    const handlers = {
      onIke: (data, from) => events.onIke(data, from),
      onEsp: () => void 0,
      onError: (err) => events.onSocketError(err)
    };
    const dp = DataPlane.open(
      family,
      0,
      {
        onDatagram: (data, from) => {
          const t = self.t;
          if (t && !t.closed) dispatchDatagram(data, from, handlers, t.own);
        },
        onRekeyNeeded: (spi) => events.onRekeyNeeded(spi),
        // A thread of the data plane stopped (the TUN device or the socket failed).
        onError: (err) => events.onFailure(err)
      },
      limits
    );
    self.t = new _NativeDataPath(dp);
    try {
      dp.attachTun(tunFd, tunOffloads);
    } catch (e) {
      dp.close();
      throw e;
    }
    return self.t;
  }
  /** Keepalives and garbage are counted by the data plane's inbound thread; the rest here. */
  get udpCounters() {
    const s = this.dp.stats();
    return {
      keepalivesIn: this.own.keepalivesIn + s.keepalivesIn,
      invalid: this.own.invalid + (s.drops["malformed"] ?? 0),
      sendErrors: this.own.sendErrors
    };
  }
  get localPort() {
    return this.dp.localPort;
  }
  setPeer(to) {
    if (this.peer?.address === to.address && this.peer.port === to.port) return;
    this.peer = { address: to.address, port: to.port };
    this.dp.setPeer(this.peer);
  }
  /** The threads carry whatever SAs are installed; the IKE layer removes them when it must. */
  setCarrying() {
  }
  installChild(inbound, outbound, policy) {
    this.dp.addInbound(inbound, policy);
    this.dp.setOutbound(outbound, policy);
  }
  removeChild(inboundSpi, outboundSpi) {
    this.dp.removeInbound(inboundSpi);
    this.dp.removeOutbound(outboundSpi);
  }
  espInAt(now) {
    const ms = this.dp.stats().msSinceEspIn;
    return ms === void 0 ? 0 : now - ms;
  }
  espOutAt(now) {
    const ms = this.dp.stats().msSinceEspOut;
    return ms === void 0 ? 0 : now - ms;
  }
  counters() {
    const s = this.dp.stats();
    const out = {
      packetsOut: s.packetsOut,
      bytesOut: s.bytesOut,
      packetsIn: s.packetsIn,
      bytesIn: s.bytesIn
    };
    for (const [reason, n] of Object.entries(s.drops)) if (n > 0) out[reason] = n;
    if (s.tunWriteErrors > 0) out["tunWriteErrors"] = s.tunWriteErrors;
    if (s.tunReadErrors > 0) out["tunReadErrors"] = s.tunReadErrors;
    if (s.eventsDropped > 0) out["eventsDropped"] = s.eventsDropped;
    return out;
  }
  dataplaneStats() {
    return this.dp.stats();
  }
  sendIke(data, to, marker) {
    this.send(marker ? addNonEspMarker(data) : data, to);
  }
  sendKeepalive(to) {
    this.send(NAT_KEEPALIVE, to);
  }
  send(data, to) {
    if (this.closed) return;
    if (!this.dp.send(data, to)) this.own.sendErrors++;
  }
  /** Stops both threads and closes the socket (before the TUN descriptor is closed). */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.dp.close();
  }
};

// src/client/datapath.ts
async function openDataPath(o) {
  const status = nativeDataPathStatus(o.fastPath, o.tun, o.espProposals);
  const offloads = o.tun.offloads ?? 0;
  if (!status.available) {
    o.log.debug("esp", `native data plane not used: ${status.reason}`);
    if (offloads !== 0)
      throw new VpnError(
        "ERR_CONFIG",
        `TUN offloads need the native data plane (${status.reason})`
      );
  } else if (o.tun.fd !== void 0) {
    const dp = NativeDataPath.open(o.family, o.tun.fd, o.events, o.limits, offloads);
    if (offloads !== 0)
      o.log.debug("esp", `TUN offloads in use (TUN_F_* 0x${offloads.toString(16)})`);
    const st = nativeEspStatus();
    const from = st.available ? ` from ${st.source} ${st.path}` : "";
    o.log.debug("esp", `ESP on the native data plane (two threads)${from}`);
    return dp;
  }
  return JsDataPath.open(o);
}

// src/client/host.ts
import { isIP as isIP3 } from "node:net";
var DEFAULT_MTU = 1432;
var ESP_OVERHEAD = 40;
async function defaultMtu(netcfg, gateway, log) {
  const v6 = gateway.includes(":");
  const overhead = (v6 ? 40 : 20) + 8 + ESP_OVERHEAD;
  try {
    const r = await netcfg.getRouteTo(gateway);
    const link = await netcfg.linkMtu(r.dev);
    if (link === void 0) return DEFAULT_MTU;
    const fit = Math.floor((link - overhead) / 4) * 4;
    if (fit < DEFAULT_MTU) log.info("tun", `link ${r.dev} has MTU ${link}: TUN MTU ${fit}`);
    return Math.max(576, Math.min(DEFAULT_MTU, fit));
  } catch {
    return DEFAULT_MTU;
  }
}
async function installKillSwitch(netcfg, gateway, log) {
  await netcfg.addHostRouteVia(gateway);
  await netcfg.addBlockRoute("0.0.0.0/1");
  await netcfg.addBlockRoute("128.0.0.0/1");
  try {
    await netcfg.addBlockRoute("::/1");
    await netcfg.addBlockRoute("8000::/1");
  } catch (e) {
    log.debug("tun", `kill switch: no IPv6 routes (${e.message})`);
  }
  log.info("tun", "kill switch on: traffic outside the tunnel is blocked");
}
async function installRoutes(netcfg, cidrs, dev, src, gateway, keepExisting = false, exclude = []) {
  for (const c of exclude) {
    const path = await netcfg.getRouteTo(c.slice(0, c.indexOf("/")));
    if (path.dev === dev) continue;
    try {
      await netcfg.addRoute(
        c,
        path.via !== void 0 ? { dev: path.dev, via: path.via } : { dev: path.dev }
      );
    } catch (e) {
      if (!/File exists/i.test(e.message)) throw e;
    }
  }
  const expanded = [];
  for (const c of cidrs) {
    if (c === "0.0.0.0/0") expanded.push("0.0.0.0/1", "128.0.0.0/1");
    else if (c === "::/0") expanded.push("::/1", "8000::/1");
    else expanded.push(c);
  }
  if (expanded.some((c) => cidrContains(c, gateway))) {
    await netcfg.addHostRouteVia(gateway);
  }
  if (keepExisting && netcfg.addBypass) {
    for (const v6 of [false, true]) {
      if (!cidrs.includes(v6 ? "::/0" : "0.0.0.0/0")) continue;
      const path = await netcfg.defaultPath(v6, dev);
      if (!path) continue;
      let from = path.src;
      if (from === void 0 && gateway.includes(":") === v6) {
        from = (await netcfg.getRouteTo(gateway)).src;
      }
      if (from !== void 0) {
        await netcfg.addBypass(
          from,
          path.via !== void 0 ? { dev: path.dev, via: path.via } : { dev: path.dev }
        );
      }
    }
  }
  await netcfg.addRoutes(expanded, { dev, ...src ? { src } : {} });
}
function toRange(ts) {
  return {
    startAddr: ts.startAddr,
    endAddr: ts.endAddr,
    protocol: ts.ipProtocol,
    startPort: ts.startPort,
    endPort: ts.endPort
  };
}
function cidrContains(cidr, ip) {
  const [net, len] = cidr.split("/");
  if (!net || len === void 0 || isIP3(net) !== isIP3(ip)) return false;
  return cidrContainsBytes(parseIpAddress(net), Number(len), parseIpAddress(ip));
}

// src/client/io.ts
import { lookup } from "node:dns/promises";
import { isIP as isIP7 } from "node:net";

// src/tun/linux.ts
import { createRequire as createRequire3 } from "node:module";
var addon;
var loaded2;
function tunAddonStatus() {
  if (loaded2?.available) return loaded2;
  const candidates = addonCandidates("tun");
  if (candidates.length === 0) {
    loaded2 = {
      available: false,
      reason: `the TUN addon is missing (${noAddonReason("tun")}): install make, gcc and python3, then run "npm rebuild -g ikev2-vpn" (in a checkout: "npm run build:addon")`
    };
    return loaded2;
  }
  const errors = [];
  for (const c of candidates) {
    try {
      const a = createRequire3(import.meta.url)(c.path);
      if (typeof a.open !== "function" || typeof a.startReading !== "function") {
        errors.push(`${c.path} is not the TUN addon`);
        continue;
      }
      addon = a;
      loaded2 = { available: true, source: c.source, path: c.path };
      return loaded2;
    } catch (e) {
      errors.push(`cannot load ${c.path}: ${e.message}`);
    }
  }
  loaded2 = {
    available: false,
    reason: `the TUN addon cannot be loaded (${errors.join("; ")}): run "npm rebuild -g ikev2-vpn" (in a checkout: "npm run build:addon")`
  };
  return loaded2;
}
function loadAddon() {
  const st = tunAddonStatus();
  if (!st.available || !addon) {
    throw new VpnError("ERR_TUN", st.available ? "the TUN addon is not loaded" : st.reason);
  }
  return addon;
}
var DEFAULT_MTU2 = 1400;
function checkName(name) {
  if (name.length === 0 || Buffer.byteLength(name) > 15 || name === "." || name === ".." || /[/:\s]/.test(name)) {
    throw new VpnError(
      "ERR_TUN",
      `invalid interface name ${JSON.stringify(name)}: 1 to 15 characters, no "/", ":" or spaces`
    );
  }
}
function checkMtu(mtu) {
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) {
    throw new VpnError("ERR_TUN", `invalid MTU ${String(mtu)}: expected an integer in 576..65535`);
  }
}
function tunError(e, name) {
  const code = e.code ?? "";
  const detail = e.message;
  switch (code) {
    case "EPERM":
    case "EACCES":
      return new VpnError(
        "ERR_TUN",
        "cannot create a TUN device: permission denied — run as root or grant CAP_NET_ADMIN",
        { cause: e }
      );
    case "ENOENT":
    case "ENODEV":
    case "ENXIO":
      return new VpnError(
        "ERR_TUN",
        'no TUN support: /dev/net/tun is missing or unusable (load the "tun" kernel module, or pass --device /dev/net/tun to the container)',
        { cause: e }
      );
    case "EBUSY":
    case "EEXIST":
      return new VpnError(
        "ERR_TUN",
        `cannot create TUN device ${name}: the name is in use by another device`,
        { cause: e }
      );
    case "EINVAL":
      return new VpnError("ERR_TUN", `cannot create TUN device ${name}: ${detail}`, { cause: e });
    default:
      return new VpnError("ERR_TUN", `cannot create a TUN device: ${detail}`, { cause: e });
  }
}
function openTun(opts2 = {}) {
  const name = opts2.name ?? "vpn%d";
  const mtu = opts2.mtu ?? DEFAULT_MTU2;
  checkName(name);
  checkMtu(mtu);
  const a = loadAddon();
  let r;
  try {
    r = opts2.offload === true ? a.open(name, { offload: true }) : a.open(name);
  } catch (e) {
    throw tunError(e, name);
  }
  return wrap(a, r.fd, r.name, mtu, r.offloads ?? 0);
}
function openTunFromFd(fd, opts2 = {}) {
  const mtu = opts2.mtu ?? DEFAULT_MTU2;
  checkMtu(mtu);
  if (!Number.isInteger(fd) || fd < 0) {
    throw new VpnError("ERR_TUN", `invalid file descriptor ${String(fd)}`);
  }
  const a = loadAddon();
  let r;
  try {
    r = a.adopt(fd);
  } catch (e) {
    throw new VpnError(
      "ERR_TUN",
      `descriptor ${String(fd)} is not a usable TUN device: ${e.message}`,
      {
        cause: e
      }
    );
  }
  return wrap(a, r.fd, r.name, mtu);
}
function openPacketPair(opts2 = {}) {
  const mtu = opts2.mtu ?? DEFAULT_MTU2;
  checkMtu(mtu);
  const a = loadAddon();
  let fds;
  try {
    fds = a.packetPair();
  } catch (e) {
    throw new VpnError("ERR_TUN", `cannot create a socket pair: ${e.message}`, {
      cause: e
    });
  }
  return { device: wrap(a, fds[0], opts2.name ?? "packet-pair", mtu), peerFd: fds[1] };
}
function closeFd(fd) {
  loadAddon().close(fd);
}
function recvFd(sock) {
  return loadAddon().recvFd(sock);
}
var VNET_NONE = new Uint8Array(10);
function wrap(a, fd, name, mtu, offloads = 0) {
  const stats = { rxPackets: 0, rxDrops: 0, rxBatches: 0, txPackets: 0, txErrors: 0 };
  let reader;
  let closed = false;
  let onError;
  return {
    name,
    mtu,
    fd,
    offloads,
    onPackets(cb) {
      if (closed || reader) return;
      if (offloads !== 0) throw new VpnError("ERR_TUN", `${name} has TUN offloads: native only`);
      reader = a.startReading(fd, (pkts, fatal) => {
        if (pkts.length > 0) {
          stats.rxBatches++;
          try {
            cb(pkts);
            stats.rxPackets += pkts.length;
          } catch {
            stats.rxDrops += pkts.length;
          }
        }
        if (fatal !== void 0 && !closed) {
          onError?.(
            new VpnError(
              "ERR_TUN",
              `TUN device ${name} stopped working (${fatal}): was it deleted?`
            )
          );
        }
      });
    },
    onError(cb) {
      onError = cb;
    },
    write(packet) {
      if (closed) {
        stats.txErrors++;
        return;
      }
      if (offloads !== 0) packet = Buffer.concat([VNET_NONE, packet]);
      if (a.write(fd, packet) === packet.length) stats.txPackets++;
      else stats.txErrors++;
    },
    writeBatch(packets) {
      if (closed) {
        stats.txErrors += packets.length;
        return;
      }
      const ok = a.writeBatch(
        fd,
        offloads !== 0 ? packets.map((p) => Buffer.concat([VNET_NONE, p])) : packets
      );
      stats.txPackets += ok;
      stats.txErrors += packets.length - ok;
    },
    close() {
      if (closed) return;
      closed = true;
      if (reader) {
        stats.rxDrops += a.readErrors(reader);
        a.stopReading(reader);
      }
      a.close(fd);
    },
    stats() {
      const s = { ...stats };
      if (reader && !closed) s.rxDrops += a.readErrors(reader);
      return s;
    }
  };
}

// src/tun/netcfg.ts
import { execFile as execFile2 } from "node:child_process";
import { renameSync, rmSync as rmSync2 } from "node:fs";
import { isIP as isIP6 } from "node:net";
import { dirname as dirname5 } from "node:path";

// src/config/load.ts
import {
  chmodSync,
  closeSync as closeSync2,
  constants as fsConstants,
  fstatSync as fstatSync2,
  lstatSync,
  mkdirSync,
  openSync as openSync2
} from "node:fs";
import { dirname as dirname2 } from "node:path";

// src/config/credentials.ts
import { createPrivateKey as createPrivateKey3, createPublicKey as createPublicKey4, X509Certificate as X509Certificate5 } from "node:crypto";
import {
  closeSync,
  constants as constants2,
  fstatSync,
  openSync,
  readdirSync as readdirSync2,
  readFileSync,
  statSync
} from "node:fs";
import { join as join2 } from "node:path";

// src/pki/pkcs12.ts
import {
  createDecipheriv as createDecipheriv3,
  createHash as createHash4,
  createHmac as createHmac3,
  createPrivateKey as createPrivateKey2,
  hash as oneShotHash,
  createPublicKey as createPublicKey3,
  getCiphers,
  pbkdf2Sync,
  timingSafeEqual as timingSafeEqual3,
  X509Certificate as X509Certificate4
} from "node:crypto";
var OID = {
  // RFC 2315 §14 / RFC 5652 §4, §8: ContentInfo types.
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  envelopedData: "1.2.840.113549.1.7.3",
  encryptedData: "1.2.840.113549.1.7.6",
  // RFC 7292 §4.2 and Appendix D: bag types.
  keyBag: "1.2.840.113549.1.12.10.1.1",
  pkcs8ShroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  safeContentsBag: "1.2.840.113549.1.12.10.1.6",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  localKeyId: "1.2.840.113549.1.9.21",
  // RFC 8018 Appendix A.2, A.4; RFC 9579 (PBMAC1).
  pbkdf2: "1.2.840.113549.1.5.12",
  pbes2: "1.2.840.113549.1.5.13",
  pbmac1: "1.2.840.113549.1.5.14"
};
var BLOCK = {
  sha1: 64,
  sha224: 64,
  sha256: 64,
  sha384: 128,
  sha512: 128
};
var OUT_LEN = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64
};
var DIGESTS = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512"
};
var HMAC_PRFS = {
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.8": "sha224",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512"
};
var PBES2_CIPHERS = {
  "2.16.840.1.101.3.4.1.2": { name: "aes-128-cbc", keyLen: 16, ivLen: 16 },
  "2.16.840.1.101.3.4.1.22": { name: "aes-192-cbc", keyLen: 24, ivLen: 16 },
  "2.16.840.1.101.3.4.1.42": { name: "aes-256-cbc", keyLen: 32, ivLen: 16 },
  "1.2.840.113549.3.7": { name: "des-ede3-cbc", keyLen: 24, ivLen: 8 }
};
var PKCS12_PBE = {
  "1.2.840.113549.1.12.1.1": { name: "rc4", keyLen: 16, label: "RC4-128" },
  "1.2.840.113549.1.12.1.2": { name: "rc4-40", keyLen: 5, label: "RC4-40" },
  "1.2.840.113549.1.12.1.3": { name: "des-ede3-cbc", keyLen: 24, label: "3-key 3DES" },
  "1.2.840.113549.1.12.1.4": { name: "des-ede-cbc", keyLen: 16, label: "2-key 3DES" },
  "1.2.840.113549.1.12.1.5": { name: "rc2-cbc", keyLen: 16, label: "RC2-128" },
  "1.2.840.113549.1.12.1.6": { name: "rc2-40-cbc", keyLen: 5, label: "RC2-40" }
};
var KNOWN_UNSUPPORTED = {
  "1.2.840.113549.1.5.3": "PBES1 pbeWithMD5AndDES-CBC",
  "1.2.840.113549.1.5.10": "PBES1 pbeWithSHA1AndDES-CBC",
  "1.2.840.113549.1.5.6": "PBES1 pbeWithMD5AndRC2-CBC",
  "1.2.840.113549.1.5.11": "PBES1 pbeWithSHA1AndRC2-CBC",
  "1.2.840.113549.3.2": "RC2-CBC",
  "1.3.14.3.2.7": "DES-CBC"
};
var REEXPORT = "re-export it with `openssl pkcs12 -export -certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256 ...`, e.g. `(umask 077; openssl pkcs12 -legacy -in OLD.p12 -nodes -out tmp.pem) && openssl pkcs12 -export -in tmp.pem -certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256 -out NEW.p12; rm tmp.pem`";
var MAX_ITERATIONS = 1e7;
var MAX_PKCS12_KDF_ITERATIONS = 1e6;
var MAX_DEPTH = 4;
function bmpPassword(password) {
  const out = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    out[2 * i] = c >> 8;
    out[2 * i + 1] = c & 255;
  }
  return out;
}
function pkcs12Kdf(hash, password, salt, id, iterations, n) {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError("iterations < 1");
  const v = BLOCK[hash];
  const u = OUT_LEN[hash];
  const D = new Uint8Array(v).fill(id);
  const stretch = (src) => {
    const out2 = new Uint8Array(v * Math.ceil(src.length / v));
    for (let i = 0; i < out2.length; i++) out2[i] = src[i % src.length];
    return out2;
  };
  const S = stretch(salt);
  const P3 = stretch(password);
  const I = new Uint8Array(S.length + P3.length);
  I.set(S);
  I.set(P3, S.length);
  const out = new Uint8Array(n);
  for (let produced = 0; produced < n; produced += u) {
    let A = createHash4(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = oneShotHash(hash, A, "buffer");
    out.set(A.subarray(0, Math.min(u, n - produced)), produced);
    if (produced + u >= n) break;
    const B2 = new Uint8Array(v);
    for (let i = 0; i < v; i++) B2[i] = A[i % u];
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const x = I[j + k] + B2[k] + carry;
        I[j + k] = x & 255;
        carry = x >> 8;
      }
    }
  }
  return out;
}
var Reader3 = class {
  root;
  what;
  constructor(root, what) {
    this.root = root;
    this.what = what;
  }
  offsetOf(bytes) {
    const o = bytes.byteOffset - this.root.byteOffset;
    return bytes.buffer === this.root.buffer && o >= 0 && o <= this.root.length ? o : 0;
  }
  fail(at, detail) {
    throw new ParseError(this.what, this.offsetOf("raw" in at ? at.raw : at), detail);
  }
  /** The one TLV that fills `bytes` (a subarray of the root). */
  tlv(bytes, what) {
    const start = bytes.byteOffset - this.root.byteOffset;
    if (bytes.buffer !== this.root.buffer || start < 0 || start + bytes.length > this.root.length)
      throw new RangeError("Reader.tlv: bytes outside the root buffer");
    const { der, next } = readDer(this.root, start, this.what);
    if (next !== start + bytes.length) this.fail(der, `trailing bytes after ${what}`);
    return der;
  }
  /** The elements of a constructed TLV, which must have tag `tag`. */
  kids(d, tag, what, parent) {
    const c = this.expect(d, tag, what, parent);
    if (!c.constructed) this.fail(c, `${what} is not constructed`);
    const start = this.offsetOf(c.value);
    const end = start + c.value.length;
    const out = [];
    for (let p = start; p < end; ) {
      const r = readDer(this.root, p, this.what);
      if (r.next > end) this.fail(r.der, `element runs past the end of ${what}`);
      out.push(r.der);
      p = r.next;
    }
    return out;
  }
  expect(d, tag, what, parent) {
    if (!d) this.fail(parent, `${what} missing`);
    if (d.tag !== tag)
      this.fail(d, `${what}: tag 0x${d.tag.toString(16)}, expected 0x${tag.toString(16)}`);
    return d;
  }
  oid(d, what, parent) {
    const o = this.expect(d, Tag.OID, what, parent);
    try {
      return decodeOid(o.value);
    } catch {
      return this.fail(o, `${what}: malformed OBJECT IDENTIFIER`);
    }
  }
  int(d, what, parent, min, max) {
    const i = this.expect(d, Tag.INTEGER, what, parent);
    let v;
    try {
      v = decodeUnsigned(i.value);
    } catch {
      return this.fail(i, `${what}: malformed or negative INTEGER`);
    }
    if (v < BigInt(min) || v > BigInt(max)) this.fail(i, `${what} ${v} out of range`);
    return Number(v);
  }
  /** An OCTET STRING, primitive or (BER-style, definite length) constructed of OCTET STRINGs. */
  octets(d, what, parent, implicitTag) {
    if (!d) this.fail(parent, `${what} missing`);
    const prim = implicitTag ?? Tag.OCTET_STRING;
    if (d.tag === prim) return d.value;
    if (d.tag === (prim | 32)) {
      const parts = this.kids(d, d.tag, what, parent).map(
        (p) => this.expect(p, Tag.OCTET_STRING, what, d).value
      );
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    }
    return this.fail(d, `${what}: tag 0x${d.tag.toString(16)}, expected an OCTET STRING`);
  }
  /** The single element of an [0] EXPLICIT wrapper. */
  explicit0(d, what, parent) {
    const inner = this.kids(d, 160, what, parent);
    if (inner.length !== 1) this.fail(d, `${what}: [0] must hold exactly one element`);
    return inner[0];
  }
};
function bmpCandidates(password) {
  const out = [bmpPassword(password)];
  if (password === "") out.push(new Uint8Array(0));
  const utf82 = Buffer.from(password, "utf8");
  if (utf82.length !== password.length) {
    const widened = new Uint8Array(utf82.length * 2 + 2);
    utf82.forEach((b, i) => widened[2 * i + 1] = b);
    out.push(widened);
  }
  return out;
}
function wrongPassword(detail) {
  return new VpnError("ERR_CERT", `wrong password for PKCS#12 file (${detail})`);
}
function checkMac(r, macData, content, password) {
  const [mac, saltD, iterD] = r.kids(macData, Tag.SEQUENCE, "MacData", macData);
  const [alg, digest2] = r.kids(mac, Tag.SEQUENCE, "MacData DigestInfo", macData);
  const algK = r.kids(alg, Tag.SEQUENCE, "MAC digestAlgorithm", mac);
  const hashOid = r.oid(algK[0], "MAC digest algorithm", alg);
  if (hashOid === OID.pbmac1)
    throw new VpnError("ERR_CERT", `PKCS#12 integrity with PBMAC1 is not supported; ${REEXPORT}`);
  const hash = DIGESTS[hashOid];
  if (!hash) throw new VpnError("ERR_CERT", `PKCS#12 MAC with unsupported hash ${hashOid}`);
  const expected = r.octets(digest2, "MAC value", mac);
  const salt = r.octets(saltD, "MAC salt", macData);
  const iterations = iterD ? r.int(iterD, "MAC iterations", macData, 1, MAX_PKCS12_KDF_ITERATIONS) : 1;
  if (expected.length !== OUT_LEN[hash]) r.fail(digest2, "MAC value has the wrong length");
  for (const pw of bmpCandidates(password)) {
    const key = pkcs12Kdf(hash, pw, salt, 3, iterations, OUT_LEN[hash]);
    const got = createHmac3(hash, key).update(content).digest();
    if (timingSafeEqual3(got, expected)) return pw;
  }
  throw wrongPassword("its integrity check failed");
}
function rc2Unavailable(label) {
  return new VpnError(
    "ERR_CERT",
    `this PKCS#12 file uses ${label} encryption (an old OpenSSL default), which this Node.js cannot decrypt; ${REEXPORT}`
  );
}
function pbeDecrypt(r, alg, data, pw) {
  const [oidD, params2] = r.kids(alg, Tag.SEQUENCE, "encryption AlgorithmIdentifier", alg);
  const oid2 = r.oid(oidD, "encryption algorithm", alg);
  const legacy = PKCS12_PBE[oid2];
  if (legacy) {
    if (legacy.name.startsWith("rc4")) {
      throw new VpnError(
        "ERR_CERT",
        `this PKCS#12 file uses ${legacy.label} encryption; ${REEXPORT}`
      );
    }
    if (legacy.name.startsWith("rc2") && !getCiphers().includes(legacy.name))
      throw rc2Unavailable(legacy.label);
    const [saltD, iterD] = r.kids(params2, Tag.SEQUENCE, "pkcs-12PbeParams", alg);
    const salt = r.octets(saltD, "PBE salt", params2);
    const iterations = r.int(iterD, "PBE iterations", params2, 1, MAX_PKCS12_KDF_ITERATIONS);
    const key = pkcs12Kdf("sha1", pw.bmp, salt, 1, iterations, legacy.keyLen);
    const iv = pkcs12Kdf("sha1", pw.bmp, salt, 2, iterations, 8);
    if (legacy.name.startsWith("rc2")) {
      try {
        return decipher(legacy.name, key, iv, data);
      } catch (e) {
        if (e instanceof VpnError) throw e;
        throw rc2Unavailable(legacy.label);
      }
    }
    return decipher(legacy.name, key, iv, data);
  }
  if (oid2 === OID.pbes2) {
    const [kdf, enc] = r.kids(params2, Tag.SEQUENCE, "PBES2-params", alg);
    const [kdfOid, kdfParams] = r.kids(kdf, Tag.SEQUENCE, "PBES2 keyDerivationFunc", params2);
    const kdfName = r.oid(kdfOid, "PBES2 key derivation function", kdf);
    if (kdfName !== OID.pbkdf2)
      throw new VpnError("ERR_CERT", `PKCS#12: PBES2 with unsupported key derivation ${kdfName}`);
    const kp = r.kids(kdfParams, Tag.SEQUENCE, "PBKDF2-params", kdf);
    const salt = r.octets(kp[0], "PBKDF2 salt", kdfParams);
    const iterations = r.int(kp[1], "PBKDF2 iterationCount", kdfParams, 1, MAX_ITERATIONS);
    let i = 2;
    let keyLen;
    if (kp[i]?.tag === Tag.INTEGER) keyLen = r.int(kp[i++], "PBKDF2 keyLength", kdfParams, 1, 64);
    let prf2 = "sha1";
    const prfD = kp[i++];
    if (prfD) {
      const prfK = r.kids(prfD, Tag.SEQUENCE, "PBKDF2 prf", kdfParams);
      const prfOid = r.oid(prfK[0], "PBKDF2 prf", prfD);
      const p = HMAC_PRFS[prfOid];
      if (!p) throw new VpnError("ERR_CERT", `PKCS#12: PBKDF2 with unsupported PRF ${prfOid}`);
      prf2 = p;
    }
    if (kp[i]) r.fail(kp[i], "unexpected element in PBKDF2-params");
    const [encOid, ivD] = r.kids(enc, Tag.SEQUENCE, "PBES2 encryptionScheme", params2);
    const cipherOid = r.oid(encOid, "PBES2 encryption scheme", enc);
    const cipher = PBES2_CIPHERS[cipherOid];
    if (!cipher) {
      const name2 = KNOWN_UNSUPPORTED[cipherOid] ?? cipherOid;
      throw new VpnError("ERR_CERT", `PKCS#12: PBES2 with unsupported cipher ${name2}; ${REEXPORT}`);
    }
    if (keyLen !== void 0 && keyLen !== cipher.keyLen)
      r.fail(kp[2], `PBKDF2 keyLength ${keyLen} does not fit ${cipher.name}`);
    const iv = r.octets(ivD, "PBES2 IV", enc);
    if (iv.length !== cipher.ivLen) r.fail(ivD, `${cipher.name} IV of ${iv.length} bytes`);
    const key = pbkdf2Sync(pw.utf8, salt, iterations, cipher.keyLen, prf2);
    return decipher(cipher.name, key, iv, data);
  }
  const name = KNOWN_UNSUPPORTED[oid2] ?? oid2;
  throw new VpnError("ERR_CERT", `PKCS#12: unsupported encryption ${name}; ${REEXPORT}`);
}
function decipher(name, key, iv, data) {
  const d = createDecipheriv3(name, key, iv);
  try {
    return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
  } catch {
    return void 0;
  }
}
function decryptOrFail(r, alg, data, ctx, what) {
  const plain = pbeDecrypt(r, alg, data, ctx.pw);
  if (plain) return plain;
  if (ctx.macVerified)
    throw new VpnError(
      "ERR_CERT",
      `PKCS#12 file is damaged: cannot decrypt its ${what} although the password passed the integrity check`
    );
  throw wrongPassword(`cannot decrypt its ${what}; or the file is damaged`);
}
function readSafeContents(r, sc, ctx, depth) {
  for (const bag of r.kids(sc, Tag.SEQUENCE, "SafeContents", sc)) {
    const [idD, valueW, attrs, extra] = r.kids(bag, Tag.SEQUENCE, "SafeBag", bag);
    if (extra) r.fail(extra, "unexpected element in SafeBag");
    const id = r.oid(idD, "bagId", bag);
    const value = r.explicit0(valueW, "bagValue", bag);
    let localKeyId;
    if (attrs) {
      for (const a of r.kids(attrs, Tag.SET, "bagAttributes", bag)) {
        const [aOid, aVals] = r.kids(a, Tag.SEQUENCE, "bag attribute", attrs);
        const vals = r.kids(aVals, Tag.SET, "bag attribute values", a);
        if (r.oid(aOid, "bag attribute type", a) === OID.localKeyId && vals[0]) {
          localKeyId = Buffer.from(r.octets(vals[0], "localKeyId", aVals)).toString("hex");
        }
      }
    }
    const withId = (b) => localKeyId !== void 0 ? { ...b, localKeyId } : b;
    switch (id) {
      case OID.keyBag:
        r.expect(value, Tag.SEQUENCE, "KeyBag", bag);
        ctx.bags.push(withId({ kind: "key", der: value.raw.slice() }));
        break;
      case OID.pkcs8ShroudedKeyBag: {
        const [alg, enc] = r.kids(value, Tag.SEQUENCE, "EncryptedPrivateKeyInfo", bag);
        const data = r.octets(enc, "encryptedData", value);
        const plain = decryptOrFail(
          r,
          r.expect(alg, Tag.SEQUENCE, "algorithm", value),
          data,
          ctx,
          "private key"
        );
        ctx.bags.push(withId({ kind: "key", der: plain }));
        break;
      }
      case OID.certBag: {
        const [certType, certW] = r.kids(value, Tag.SEQUENCE, "CertBag", bag);
        if (r.oid(certType, "certId", value) !== OID.x509Certificate) break;
        const der = r.octets(r.explicit0(certW, "certValue", value), "x509Certificate", value);
        const cert = new Reader3(der, `${r.what} certificate`);
        cert.expect(cert.tlv(der, "certificate"), Tag.SEQUENCE, "certificate", der);
        ctx.bags.push(withId({ kind: "cert", der: der.slice() }));
        break;
      }
      case OID.safeContentsBag:
        if (depth >= MAX_DEPTH) r.fail(bag, "safeContentsBag nested too deeply");
        readSafeContents(r, value, ctx, depth + 1);
        break;
      default:
        break;
    }
  }
}
function spkiOf(key) {
  return createPublicKey3(key).export({ type: "spki", format: "der" });
}
function certSpki(der) {
  try {
    return new X509Certificate4(der).publicKey.export({ type: "spki", format: "der" });
  } catch {
    return void 0;
  }
}
function importKey(der) {
  try {
    return createPrivateKey2({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  } catch (e) {
    throw new VpnError(
      "ERR_CERT",
      `the private key in the PKCS#12 file is not usable: ${e instanceof Error ? e.message : String(e)}`
    );
  }
}
function parsePkcs12(der, password) {
  const r = new Reader3(der, "PKCS#12");
  const pfxD = r.tlv(der, "PFX");
  const pfx = r.kids(pfxD, Tag.SEQUENCE, "PFX", pfxD);
  if (r.int(pfx[0], "PFX version", pfxD, 0, 1e6) !== 3)
    r.fail(pfx[0], "PFX version is not 3");
  if (pfx[3]) r.fail(pfx[3], "unexpected element in PFX");
  const [ctype, contentW] = r.kids(pfx[1], Tag.SEQUENCE, "authSafe ContentInfo", pfxD);
  const authType = r.oid(ctype, "authSafe contentType", pfx[1]);
  if (authType === OID.signedData)
    throw new VpnError(
      "ERR_CERT",
      `PKCS#12 files with public-key integrity (signedData) are not supported; ${REEXPORT}`
    );
  if (authType !== OID.data)
    throw new VpnError("ERR_CERT", `PKCS#12 authSafe of unsupported type ${authType}`);
  const authSafe = r.octets(
    r.explicit0(contentW, "authSafe content", pfx[1]),
    "authSafe data",
    pfx[1]
  );
  const utf82 = new Uint8Array(Buffer.from(password, "utf8"));
  const ctx = { pw: { bmp: bmpPassword(password), utf8: utf82 }, macVerified: false, bags: [] };
  if (pfx[2]) {
    ctx.pw.bmp = checkMac(r, pfx[2], authSafe, password);
    ctx.macVerified = true;
  }
  const inner = authSafe.buffer === der.buffer ? r : new Reader3(authSafe, "PKCS#12 AuthenticatedSafe");
  const asD = inner.tlv(authSafe, "AuthenticatedSafe");
  for (const ci of inner.kids(asD, Tag.SEQUENCE, "AuthenticatedSafe", asD)) {
    const [t, w] = inner.kids(ci, Tag.SEQUENCE, "ContentInfo", ci);
    const type = inner.oid(t, "contentType", ci);
    if (type === OID.data) {
      const bytes = inner.octets(inner.explicit0(w, "data content", ci), "data", ci);
      const sr = bytes.buffer === der.buffer ? r : new Reader3(bytes, "PKCS#12 SafeContents");
      readSafeContents(sr, sr.tlv(bytes, "SafeContents"), ctx, 0);
    } else if (type === OID.encryptedData) {
      const ed = inner.explicit0(w, "encryptedData content", ci);
      const [, eci] = inner.kids(ed, Tag.SEQUENCE, "EncryptedData", ci);
      const [, alg, enc] = inner.kids(eci, Tag.SEQUENCE, "EncryptedContentInfo", ed);
      const algD = inner.expect(alg, Tag.SEQUENCE, "contentEncryptionAlgorithm", eci);
      const data = inner.octets(enc, "encryptedContent", eci, 128);
      const plain = decryptOrFail(inner, algD, data, ctx, "certificates");
      const pr = new Reader3(plain, "PKCS#12 SafeContents (decrypted)");
      readSafeContents(pr, pr.tlv(plain, "SafeContents"), ctx, 0);
    } else if (type === OID.envelopedData) {
      throw new VpnError(
        "ERR_CERT",
        `PKCS#12 files with public-key privacy (envelopedData) are not supported; ${REEXPORT}`
      );
    } else {
      throw new VpnError("ERR_CERT", `PKCS#12 ContentInfo of unsupported type ${type}`);
    }
  }
  const keyBags = ctx.bags.filter((b) => b.kind === "key");
  const certBags = ctx.bags.filter((b) => b.kind === "cert");
  if (keyBags.length === 0) throw new VpnError("ERR_CERT", "the PKCS#12 file holds no private key");
  const keys = keyBags.map((b) => ({ bag: b, key: importKey(b.der) }));
  const spkis = certBags.map((c) => certSpki(c.der));
  const pick = () => {
    for (const k of keys) {
      const spki = spkiOf(k.key);
      const same = certBags.map((c, i) => ({ c, i })).filter(({ i }) => spkis[i]?.equals(spki) === true);
      const byId = same.find(
        ({ c }) => c.localKeyId !== void 0 && c.localKeyId === k.bag.localKeyId
      );
      const hit = byId ?? same[0];
      if (hit) return { key: k.key, leaf: hit.i };
    }
    for (const k of keys) {
      if (k.bag.localKeyId === void 0) continue;
      const i = certBags.findIndex((c) => c.localKeyId === k.bag.localKeyId);
      if (i >= 0) return { key: k.key, leaf: i };
    }
    return { key: keys[0].key, leaf: -1 };
  };
  const { key, leaf } = pick();
  const certs = certBags.map((c) => c.der);
  if (leaf > 0) certs.unshift(...certs.splice(leaf, 1));
  return { key, certs };
}

// src/config/credentials.ts
var SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/cert.pem"
];
var SYSTEM_DIR = "/etc/ssl/certs";
var CERT_FILE = /\.(pem|crt|cer|der)$/i;
var CERT_LABELS = /* @__PURE__ */ new Set(["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"]);
var KEY_LABELS = /* @__PURE__ */ new Set([
  "PRIVATE KEY",
  "ENCRYPTED PRIVATE KEY",
  "RSA PRIVATE KEY",
  "EC PRIVATE KEY"
]);
var SIGNING_KEY_TYPES = /* @__PURE__ */ new Set(["rsa", "rsa-pss", "ec", "ed25519", "ed448"]);
var ERRNO_TEXT = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "it is a folder",
  ENOTDIR: "a part of the path is not a folder"
};
function errnoText(e) {
  const code = e.code;
  return (code !== void 0 ? ERRNO_TEXT[code] : void 0) ?? code ?? (e instanceof Error ? e.message : String(e));
}
function statOrUndefined(path) {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return void 0;
  }
}
function readPublicFile(path, what) {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new VpnError("ERR_CONFIG", `cannot read ${what} ${path}: ${errnoText(e)}`, { cause: e });
  }
}
function checkOwnerOnly(st, path, what) {
  const mode = st.mode & 511;
  if ((mode & 63) === 0) return;
  if (st.uid === 0 && st.gid === 0 && (mode & 7) === 0) return;
  throw new VpnError(
    "ERR_CONFIG",
    `${what} ${path} is accessible by others (mode ${mode.toString(8).padStart(4, "0")}); run: chmod 600 ${path}`
  );
}
function readPrivateFile(path, what) {
  let fd;
  try {
    fd = openSync(path, constants2.O_RDONLY | constants2.O_NONBLOCK);
  } catch (e) {
    throw new VpnError("ERR_CONFIG", `cannot read ${what} ${path}: ${errnoText(e)}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new VpnError("ERR_CONFIG", `${what} ${path} is not a regular file`);
    checkOwnerOnly(st, path, what);
    return readFileSync(fd);
  } catch (e) {
    if (isVpnError(e)) throw e;
    throw new VpnError("ERR_CONFIG", `cannot read ${what} ${path}: ${errnoText(e)}`, { cause: e });
  } finally {
    closeSync(fd);
  }
}
function pemBlocks(text) {
  const out = [];
  const re = /-----BEGIN ([^\r\n-]*)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const label = m[1];
    const body = m[2];
    const headers = [];
    let b64 = body;
    const h = /^((?:[A-Za-z-]+:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*)+)\r?\n/.exec(body);
    if (h) {
      headers.push(...h[1].split(/\r?\n/).filter((l) => l !== ""));
      b64 = body.slice(h[0].length);
    }
    const compact = b64.replace(/\s+/g, "");
    const valid = compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
    const line = text.slice(0, m.index).split("\n").length;
    out.push({
      label,
      headers,
      der: valid && compact.length > 0 ? new Uint8Array(Buffer.from(compact, "base64")) : void 0,
      text: `${m[0]}
`,
      line
    });
  }
  return out;
}
function isPem(data) {
  return data.includes("-----BEGIN ");
}
function derOrUndefined(data) {
  try {
    return parseDer(data);
  } catch {
    return void 0;
  }
}
function isCertificate(der) {
  const d = derOrUndefined(der);
  if (d?.tag !== Tag.SEQUENCE) return false;
  try {
    new X509Certificate5(der);
    return true;
  } catch {
    return false;
  }
}
function certificatesOf(path, data, lenient) {
  if (!isPem(data)) {
    const der = new Uint8Array(data);
    if (isCertificate(der)) return { certs: [der], bad: 0 };
    throw new VpnError(
      "ERR_CONFIG",
      `no certificate in ${path}: it is neither PEM (-----BEGIN CERTIFICATE-----) nor a DER certificate`
    );
  }
  const blocks = pemBlocks(data.toString("latin1"));
  const certs = [];
  let bad = 0;
  for (const b of blocks) {
    if (!CERT_LABELS.has(b.label)) continue;
    let der = b.der;
    if (der && b.label === "TRUSTED CERTIFICATE") {
      try {
        der = readDer(der, 0).der.raw;
      } catch {
        der = void 0;
      }
    }
    if (der && isCertificate(der)) {
      certs.push(der.slice());
      continue;
    }
    if (lenient) {
      bad++;
      continue;
    }
    throw new VpnError(
      "ERR_CERT",
      `${path}: the certificate at line ${b.line} is ${der ? "not a valid X.509 certificate" : "not valid base64"}`
    );
  }
  if (certs.length === 0 && bad === 0) {
    if (data.includes("-----BEGIN CERTIFICATE-----"))
      throw new VpnError("ERR_CERT", `${path}: a BEGIN CERTIFICATE line without its END line`);
    const hint = blocks.some((b) => /PRIVATE KEY$/.test(b.label)) ? " (it holds a private key; that goes to --key)" : "";
    throw new VpnError("ERR_CONFIG", `no certificate in ${path}${hint}`);
  }
  return { certs, bad };
}
function loadCertificates(path) {
  return certificatesOf(path, readPublicFile(path, "certificate file"), false).certs;
}
function loadTrustAnchors(spec2, system = { bundles: SYSTEM_BUNDLES, dir: SYSTEM_DIR }) {
  if (spec2 !== void 0) {
    let st;
    try {
      st = statSync(spec2, { throwIfNoEntry: false });
    } catch (e) {
      throw new VpnError("ERR_CONFIG", `--ca ${spec2}: ${errnoText(e)}`, { cause: e });
    }
    if (!st) throw new VpnError("ERR_CONFIG", `--ca ${spec2}: no such file or folder`);
    if (st.isDirectory()) {
      const r = fromDir(spec2);
      if (r.certs.length === 0)
        throw new VpnError(
          "ERR_CONFIG",
          `no trusted CA certificates found in ${spec2}: no .pem, .crt, .cer or .der file with a certificate${r.skipped > 0 ? ` (${r.skipped} skipped: ${r.skippedFiles.join(", ")})` : ""}`
        );
      return r;
    }
    return { certs: dedupe2(loadCertificates(spec2)), source: spec2, skipped: 0, skippedFiles: [] };
  }
  for (const bundle of system.bundles) {
    if (statOrUndefined(bundle)?.isFile() !== true) continue;
    try {
      const { certs, bad } = certificatesOf(bundle, readPublicFile(bundle, "CA bundle"), true);
      if (certs.length > 0)
        return {
          certs: dedupe2(certs),
          source: `${bundle} (system store)`,
          skipped: bad,
          skippedFiles: bad > 0 ? [bundle] : []
        };
    } catch (e) {
      if (!isVpnError(e)) throw e;
    }
  }
  if (statOrUndefined(system.dir)?.isDirectory() === true) {
    try {
      const r = fromDir(system.dir);
      if (r.certs.length > 0) return { ...r, source: `${system.dir} (system store)` };
    } catch (e) {
      if (!isVpnError(e)) throw e;
    }
  }
  throw new VpnError(
    "ERR_CONFIG",
    `no trusted CA certificates found in the system store (${[...system.bundles, system.dir].join(", ")}); pass --ca FILE|DIR with the CA that issued the gateway's certificate`
  );
}
function dedupe2(certs) {
  const seen = /* @__PURE__ */ new Set();
  return certs.filter((c) => {
    const k = Buffer.from(c).toString("base64");
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
function fromDir(dir) {
  let names;
  try {
    names = readdirSync2(dir).sort();
  } catch (e) {
    throw new VpnError("ERR_CONFIG", `cannot read folder ${dir}: ${errnoText(e)}`, { cause: e });
  }
  const certs = [];
  const skippedFiles = [];
  for (const name of names) {
    if (!CERT_FILE.test(name)) continue;
    const p = join2(dir, name);
    try {
      if (!statSync(p).isFile()) continue;
      certs.push(...loadCertificates(p));
    } catch {
      skippedFiles.push(p);
    }
  }
  return { certs: dedupe2(certs), source: dir, skipped: skippedFiles.length, skippedFiles };
}
function derKeyType(data) {
  const d = derOrUndefined(data);
  if (d?.tag !== Tag.SEQUENCE) return void 0;
  let k;
  try {
    k = children(d);
  } catch {
    return void 0;
  }
  const [a, b] = k;
  if (a?.tag === Tag.SEQUENCE && b?.tag === Tag.OCTET_STRING)
    return { type: "pkcs8", encrypted: true };
  if (a?.tag !== Tag.INTEGER) return void 0;
  if (b?.tag === Tag.SEQUENCE) return { type: "pkcs8", encrypted: false };
  if (b?.tag === Tag.INTEGER) return { type: "pkcs1", encrypted: false };
  if (b?.tag === Tag.OCTET_STRING) return { type: "sec1", encrypted: false };
  return void 0;
}
function checkSigningKey(key, where) {
  const t = key.asymmetricKeyType;
  if (t === void 0 || !SIGNING_KEY_TYPES.has(t))
    throw new VpnError(
      "ERR_CERT",
      `${where} holds a key of type ${t ?? "unknown"}, which cannot sign IKE AUTH (RSA, ECDSA or Ed25519 needed)`
    );
}
function errCode(e) {
  return e.code;
}
function loadPrivateKey(path, passphrase) {
  const data = readPrivateFile(path, "key file");
  let input;
  let encrypted;
  if (isPem(data)) {
    const blocks = pemBlocks(data.toString("latin1"));
    const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
    if (keys.length === 0) {
      const other = blocks.find((b) => b.label.endsWith("PRIVATE KEY"));
      if (other?.label === "OPENSSH PRIVATE KEY")
        throw new VpnError(
          "ERR_CONFIG",
          `${path} is an OpenSSH private key; convert a copy to PKCS#8 with: ssh-keygen -p -m PKCS8 -f COPY`
        );
      const hint = other ? ` (a ${other.label} block: RSA, ECDSA or Ed25519 needed)` : blocks.some((b) => CERT_LABELS.has(b.label)) ? " (it holds a certificate; that goes to --cert)" : "";
      throw new VpnError("ERR_CONFIG", `no private key in ${path}${hint}`);
    }
    if (keys.length > 1)
      throw new VpnError("ERR_CONFIG", `${path} holds ${keys.length} private keys; keep only one`);
    const block = keys[0];
    if (!block.der)
      throw new VpnError(
        "ERR_CERT",
        `${path}: the private key at line ${block.line} is not valid base64`
      );
    encrypted = block.label === "ENCRYPTED PRIVATE KEY" || block.headers.some((h) => /^Proc-Type:\s*4,\s*ENCRYPTED/i.test(h));
    input = { key: block.text, format: "pem" };
  } else {
    const kind = derKeyType(data);
    if (!kind)
      throw new VpnError(
        "ERR_CONFIG",
        `no private key in ${path}: it is neither PEM (-----BEGIN PRIVATE KEY-----) nor a DER private key`
      );
    encrypted = kind.encrypted;
    input = { key: data, format: "der", type: kind.type };
  }
  const needPassphrase = () => new VpnError(
    "ERR_CONFIG",
    `${path} is encrypted: pass --key-passphrase-file or run in a terminal to be asked (or set VPN_KEY_PASSPHRASE)`
  );
  if (encrypted) {
    const pass = passphrase?.();
    if (pass === void 0) throw needPassphrase();
    input = { ...input, passphrase: pass };
  }
  let key;
  try {
    key = createPrivateKey3(input);
  } catch (e) {
    const code = errCode(e);
    if (code === "ERR_MISSING_PASSPHRASE" || code === "ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED")
      throw needPassphrase();
    if (encrypted)
      throw new VpnError("ERR_CONFIG", `wrong passphrase for the encrypted key ${path}`, {
        cause: e
      });
    throw new VpnError(
      "ERR_CERT",
      `${path} holds no usable private key: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e }
    );
  }
  checkSigningKey(key, path);
  return key;
}
function loadPkcs12(path, password) {
  const data = readPrivateFile(path, "PKCS#12 file");
  if (isPem(data))
    throw new VpnError(
      "ERR_CONFIG",
      `${path} is a PEM file, not PKCS#12: pass it with --cert and --key`
    );
  let r;
  try {
    r = parsePkcs12(new Uint8Array(data), password);
  } catch (e) {
    if (!isVpnError(e)) throw e;
    if (e.code === "ERR_PARSE")
      throw new VpnError("ERR_CERT", `${path} is not a valid PKCS#12 file: ${e.message}`, {
        cause: e
      });
    throw new VpnError(e.code, `${path}: ${e.message}`, { cause: e });
  }
  if (r.certs.length === 0)
    throw new VpnError("ERR_CERT", `${path}: the PKCS#12 file holds no certificate`);
  r.certs.forEach((c, i) => {
    if (!isCertificate(c))
      throw new VpnError(
        "ERR_CERT",
        `${path}: certificate ${i + 1} is not a valid X.509 certificate`
      );
  });
  if (!sameKey(r.key, r.certs[0]))
    throw new VpnError(
      "ERR_CERT",
      `the private key in ${path} does not belong to any certificate in it`
    );
  checkSigningKey(r.key, path);
  return r;
}
function sameKey(key, certDer) {
  const mine = createPublicKey4(key).export({ type: "spki", format: "der" });
  let theirs;
  try {
    theirs = new X509Certificate5(certDer).publicKey.export({ type: "spki", format: "der" });
  } catch (e) {
    throw new VpnError("ERR_CERT", "not a valid X.509 certificate", { cause: e });
  }
  return mine.equals(theirs);
}
function checkKeyMatchesCert(key, certDer, keyFile, certFile) {
  if (sameKey(key, certDer)) return;
  throw new VpnError(
    "ERR_CONFIG",
    `the private key${keyFile !== void 0 ? ` in ${keyFile}` : ""} does not belong to the certificate${certFile !== void 0 ? ` in ${certFile}` : ""}`
  );
}
function readSecretFile(path, what = "secret file") {
  const data = readPrivateFile(path, what);
  if (data.length === 0) throw new VpnError("ERR_CONFIG", `${what} ${path} is empty`);
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(data);
  } catch (e) {
    throw new VpnError("ERR_CONFIG", `${what} ${path} is not UTF-8 text`, { cause: e });
  }
  const nl2 = text.indexOf("\n");
  const first = nl2 < 0 ? text : text.slice(0, nl2);
  return first.endsWith("\r") ? first.slice(0, -1) : first;
}

// src/config/load.ts
function readSecretFile2(path, what) {
  const data = readPrivateFile(path, `${what} file`);
  let end = data.length;
  while (end > 0 && (data[end - 1] === 10 || data[end - 1] === 13)) end--;
  if (end === 0) throw new VpnError("ERR_CONFIG", `${what} file ${path} is empty`);
  return new Uint8Array(data.subarray(0, end));
}
function runtimeDir() {
  const env = process.env["VPN_RUNTIME_DIR"];
  if (env) return env;
  if (process.getuid?.() === 0) return "/run/ikev2-vpn";
  const xdg = process.env["XDG_RUNTIME_DIR"];
  return xdg ? `${xdg}/ikev2-vpn` : `/tmp/ikev2-vpn-${process.getuid?.() ?? "user"}`;
}
function ensureRuntimeDir(dir = runtimeDir()) {
  return ensurePrivateDir(dir, "runtime directory");
}
function ensurePrivateDir(dir, what = "directory") {
  try {
    mkdirSync(dir, { mode: 448 });
    chmodSync(dir, 448);
  } catch (e) {
    const code = e.code;
    if (code === "ENOENT") {
      mkdirSync(dirname2(dir), { recursive: true, mode: 448 });
      return ensurePrivateDir(dir, what);
    }
    if (code !== "EEXIST") {
      throw new VpnError("ERR_PRIVILEGE", `cannot create ${what} ${dir}: ${e.message}`, {
        cause: e
      });
    }
  }
  checkPrivateDir(dir, what);
  return dir;
}
function checkPrivateDir(dir, what = "directory") {
  let st;
  try {
    st = lstatSync(dir);
  } catch (e) {
    throw new VpnError("ERR_PRIVILEGE", `cannot use ${what} ${dir}: ${e.message}`, {
      cause: e
    });
  }
  const refuse2 = (why) => {
    throw new VpnError(
      "ERR_PRIVILEGE",
      `refusing to use ${what} ${dir}: ${why}; someone else may have created it — remove it (or set VPN_RUNTIME_DIR to a private directory) and try again`
    );
  };
  if (st.isSymbolicLink()) refuse2("it is a symbolic link");
  if (!st.isDirectory()) refuse2("it is not a directory");
  const euid = process.geteuid?.();
  if (euid !== void 0 && st.uid !== euid) {
    refuse2(`it is owned by uid ${st.uid}, not by us (uid ${euid})`);
  }
  if ((st.mode & 63) !== 0) {
    refuse2(
      `group or others have access to it (mode ${(st.mode & 511).toString(8).padStart(4, "0")}, expected 0700)`
    );
  }
}
function openPrivateAppend(path) {
  let fd;
  try {
    fd = openSync2(
      path,
      fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW,
      384
    );
  } catch (e) {
    const code = e.code;
    throw new VpnError(
      "ERR_PRIVILEGE",
      code === "ELOOP" ? `refusing to open ${path}: it is a symbolic link` : `cannot open ${path}: ${e.message}`,
      { cause: e }
    );
  }
  const st = fstatSync2(fd);
  const euid = process.geteuid?.();
  if (!st.isFile() || euid !== void 0 && st.uid !== euid) {
    closeSync2(fd);
    throw new VpnError(
      "ERR_PRIVILEGE",
      `refusing to open ${path}: it is not a regular file of ours`
    );
  }
  return fd;
}

// src/tun/journal.ts
import {
  closeSync as closeSync3,
  constants as fsConstants2,
  existsSync as existsSync2,
  fstatSync as fstatSync3,
  openSync as openSync3,
  readSync,
  readlinkSync,
  unlinkSync,
  writeSync
} from "node:fs";
import { isIP as isIP4 } from "node:net";
import { basename, dirname as dirname3, join as join3 } from "node:path";
var MAX_ROUTES = 256;
var MAX_JOURNAL_ENTRIES = MAX_ROUTES + 64;
var MAX_JOURNAL_BYTES = 1 << 20;
var MAX_BACKUP_BYTES = 1 << 20;
var DEFAULT_TUN_PATTERN = /^vpn[0-9]{1,5}$/;
var BYPASS_TABLE = 45e3;
var BYPASS_PRIORITY = 32700;
var BLOCK_DESTS = /* @__PURE__ */ new Set(["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"]);
function readJournal(journalPath, ctx = {}) {
  const dir = dirname3(journalPath);
  if (!existsSync2(dir)) return void 0;
  ensurePrivateDir(dir, "runtime directory");
  const text = readPrivate(journalPath, MAX_JOURNAL_BYTES, "journal");
  if (text === void 0) return void 0;
  const bad = (why) => {
    throw new VpnError(
      "ERR_NETCFG",
      `refusing to replay journal ${journalPath}: ${why}; nothing was run — check the host's routes and DNS, then remove the file`
    );
  };
  let parsed;
  try {
    parsed = JSON.parse(text.toString("utf8"));
  } catch {
    return bad("it is not valid JSON");
  }
  const f = parsed;
  if (typeof f !== "object" || f === null || Array.isArray(f) || f.version !== 2) {
    return bad("unknown format (expected version 2)");
  }
  const keys = Object.keys(f).sort().join(",");
  if (keys !== "entries,netns,pid,version") return bad(`unexpected fields (${keys})`);
  if (!Number.isSafeInteger(f.pid) || f.pid <= 0) return bad("invalid pid");
  if (typeof f.netns !== "string") return bad("invalid network namespace");
  if (f.netns !== netnsKey()) {
    return bad(
      `it was written in another network namespace (${f.netns.slice(0, 40)}, this is ${netnsKey()}): run the command there`
    );
  }
  try {
    validateJournal(f.entries, { ...ctx, backup: dnsBackupPath(journalPath) });
  } catch (e) {
    return bad(e.message);
  }
  const pid = f.pid;
  return { pid, alive: pid !== process.pid && isAlive(pid), entries: f.entries };
}
function validateJournal(entries, ctx = {}) {
  if (!Array.isArray(entries)) throw new Error("entries is not a list");
  if (entries.length > MAX_JOURNAL_ENTRIES) {
    throw new Error(`too many entries (${entries.length}, at most ${MAX_JOURNAL_ENTRIES})`);
  }
  const tun = ctx.tunPattern ?? DEFAULT_TUN_PATTERN;
  const resolvConf = ctx.resolvConf ?? "/etc/resolv.conf";
  entries.forEach((raw, i) => {
    const fail4 = (why) => {
      throw new Error(`entry ${i + 1} ${safeJson(raw)}: ${why}`);
    };
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail4("not an object");
    const e = raw;
    const only = (...allowed) => {
      for (const k of Object.keys(e)) {
        if (k !== "kind" && !allowed.includes(k)) fail4(`unexpected field "${k}"`);
      }
    };
    const ourDev = () => {
      if (typeof e["dev"] !== "string" || !tun.test(e["dev"])) fail4("not our TUN device");
    };
    switch (e["kind"]) {
      case "addr":
        only("dev", "cidr");
        ourDev();
        if (!isCidr(e["cidr"])) fail4("invalid address");
        return;
      case "mtu":
        only("dev", "old");
        ourDev();
        if (!Number.isInteger(e["old"]) || e["old"] < 68 || e["old"] > 65535)
          fail4("invalid MTU");
        return;
      case "up":
        only("dev");
        ourDev();
        return;
      case "route": {
        only("dest", "dev", "via", "metric", "table");
        if (!isCidr(e["dest"])) fail4("invalid destination");
        if (!isDevName(e["dev"])) fail4("invalid device");
        const dest = e["dest"];
        const v6 = dest.includes(":");
        if (!tun.test(e["dev"])) {
          const bypass = e["table"] === String(BYPASS_TABLE) && dest === (v6 ? "::/0" : "0.0.0.0/0");
          if (!dest.endsWith(v6 ? "/128" : "/32") && !bypass)
            fail4("a route through another device that is not a host route");
        }
        if (e["via"] !== void 0 && (typeof e["via"] !== "string" || isIP4(e["via"]) !== (v6 ? 6 : 4)))
          fail4("invalid next hop");
        if (e["metric"] !== void 0 && !isU32(e["metric"])) fail4("invalid metric");
        if (e["table"] !== void 0 && (typeof e["table"] !== "string" || !/^(main|[0-9]{1,10})$/.test(e["table"])))
          fail4("invalid table");
        return;
      }
      case "block":
        only("dest", "metric");
        if (typeof e["dest"] !== "string" || !BLOCK_DESTS.has(e["dest"]))
          fail4("not a kill-switch route");
        if (!isU32(e["metric"])) fail4("invalid metric");
        return;
      case "rule": {
        only("from", "table", "priority", "suppress");
        if (typeof e["from"] !== "string" || isIP4(e["from"]) === 0) fail4("invalid source");
        const mainRule = e["table"] === "main" && e["suppress"] === 1 && e["priority"] === BYPASS_PRIORITY;
        const ourTable = e["table"] === String(BYPASS_TABLE) && e["suppress"] === void 0 && e["priority"] === BYPASS_PRIORITY + 1;
        if (!mainRule && !ourTable) fail4("not a full-tunnel bypass rule");
        return;
      }
      case "dns-file":
        only("path", "backup", "existed");
        if (e["path"] !== resolvConf) fail4(`not the resolv.conf we manage (${resolvConf})`);
        if (ctx.backup === void 0 || e["backup"] !== ctx.backup) fail4("not our DNS backup");
        if (e["existed"] !== void 0 && typeof e["existed"] !== "boolean")
          fail4('invalid "existed"');
        return;
      case "dns-resolvectl":
        only("dev");
        ourDev();
        return;
      case "dns-resolvconf": {
        only("dev", "iface");
        ourDev();
        const iface = e["iface"];
        if (iface !== void 0 && (typeof iface !== "string" || !/^([A-Za-z0-9-]{1,32}\.)?[A-Za-z0-9_.-]{1,15}$/.test(iface) || !iface.endsWith(e["dev"])))
          fail4("invalid resolvconf interface");
        return;
      }
      default:
        fail4("unknown kind");
    }
  });
}
function describeEntry(e) {
  switch (e.kind) {
    case "addr":
      return `address ${e.cidr} on ${e.dev}`;
    case "mtu":
      return `MTU of ${e.dev} (was ${e.old})`;
    case "up":
      return `${e.dev} up`;
    case "route":
      return `route ${e.dest}${e.via ? ` via ${e.via}` : ""} dev ${e.dev}${e.table ? ` table ${e.table}` : ""}`;
    case "block":
      return `kill-switch route unreachable ${e.dest}`;
    case "rule":
      return `rule from ${e.from} lookup ${e.table}${e.suppress !== void 0 ? ` suppress_prefixlength ${e.suppress}` : ""}`;
    case "dns-file":
      return `DNS in ${e.path} (original kept in ${e.backup})`;
    case "dns-resolvectl":
      return `DNS of ${e.dev} in systemd-resolved`;
    case "dns-resolvconf":
      return `DNS of ${e.iface ?? e.dev} in resolvconf`;
  }
}
function netnsKey() {
  try {
    const m = /^net:\[(\d+)\]$/.exec(readlinkSync("/proc/self/ns/net"));
    if (m) return `net${m[1]}`;
  } catch {
  }
  return "net0";
}
function dnsBackupPath(journalPath) {
  const base = basename(journalPath).replace(/\.journal$/, "");
  return join3(dirname3(journalPath), `${base}.${netnsKey()}.resolv.conf.bak`);
}
function safeJson(v) {
  let s;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = "?";
  }
  s = s.replace(/[^\x20-\x7e]/g, "?");
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
function isU32(v) {
  return Number.isInteger(v) && v >= 0 && v <= 4294967295;
}
function isDevName(v) {
  return typeof v === "string" && /^[A-Za-z0-9_.@-]{1,15}$/.test(v) && v !== "." && v !== "..";
}
function isCidr(v) {
  if (typeof v !== "string") return false;
  const m = /^([0-9A-Fa-f:.]{2,45})\/(\d{1,3})$/.exec(v);
  if (!m) return false;
  const fam = isIP4(m[1]);
  if (fam === 0) return false;
  return Number(m[2]) <= (fam === 6 ? 128 : 32);
}
function writeExclusive(path, data) {
  const flags = fsConstants2.O_WRONLY | fsConstants2.O_CREAT | fsConstants2.O_EXCL | fsConstants2.O_NOFOLLOW;
  let fd;
  try {
    fd = openSync3(path, flags, 384);
  } catch (e) {
    if (e.code !== "EEXIST") throw e;
    if (!path.endsWith(".tmp")) throw e;
    unlinkSync(path);
    fd = openSync3(path, flags, 384);
  }
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync3(fd);
  }
}
function readPrivate(path, max, what) {
  let fd;
  try {
    fd = openSync3(path, fsConstants2.O_RDONLY | fsConstants2.O_NOFOLLOW | fsConstants2.O_NONBLOCK);
  } catch (e) {
    const code = e.code;
    if (code === "ENOENT") return void 0;
    throw new VpnError(
      "ERR_PRIVILEGE",
      code === "ELOOP" ? `refusing to read ${what} ${path}: it is a symbolic link` : `cannot read ${what} ${path}: ${e.message}`,
      { cause: e }
    );
  }
  try {
    const st = fstatSync3(fd);
    const euid = process.geteuid?.();
    const refuse2 = (why) => {
      throw new VpnError("ERR_PRIVILEGE", `refusing to read ${what} ${path}: ${why}`);
    };
    if (!st.isFile()) refuse2("it is not a regular file");
    if (euid !== void 0 && st.uid !== euid) refuse2(`it is owned by uid ${st.uid}, not by us`);
    if ((st.mode & 63) !== 0) refuse2("group or others have access to it");
    if (st.size > max) refuse2(`it is too large (${st.size} bytes)`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync3(fd);
  }
}
function isAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

// src/tun/dns.ts
import { execFile } from "node:child_process";
import {
  existsSync as existsSync3,
  lstatSync as lstatSync2,
  readFileSync as readFileSync2,
  readlinkSync as readlinkSync2,
  rmSync,
  unlinkSync as unlinkSync2,
  writeFileSync
} from "node:fs";
import { isIP as isIP5 } from "node:net";
import { delimiter, dirname as dirname4, join as join4 } from "node:path";
var MARKER = "# written by ikev2-vpn";
async function configureDns(ctx, dev, servers, domains, opts2 = {}) {
  if (servers.length === 0) return void 0;
  if (!isDevName(dev)) throw new VpnError("ERR_NETCFG", `invalid interface name ${safeJson(dev)}`);
  for (const s of servers) {
    if (isIP5(s) === 0) throw new VpnError("ERR_DNS", `invalid DNS server ${JSON.stringify(s)}`);
  }
  for (const d of domains) {
    if (!isDomainName(d)) {
      throw new VpnError("ERR_DNS", `invalid DNS domain ${JSON.stringify(d)}`);
    }
  }
  const backend = await chooseBackend(ctx);
  ctx.log.info("tun", `DNS via ${backend}: ${servers.join(", ")}`);
  const list2 = servers.join(", ");
  switch (backend) {
    case "resolvectl": {
      ctx.record({ kind: "dns-resolvectl", dev });
      await ctx.run("resolvectl", ["dns", dev, "--", ...servers]);
      const full = opts2.defaultRoute === true;
      const routing = [...domains.map((d) => `~${d}`), ...full ? ["~."] : []];
      if (routing.length > 0) await ctx.run("resolvectl", ["domain", dev, "--", ...routing]);
      const defaultRoute = full || domains.length === 0;
      const extra = [
        ["default-route", String(defaultRoute)],
        ["llmnr", "no"],
        ["mdns", "no"]
      ];
      for (const [verb, value] of extra) {
        await ctx.run("resolvectl", [verb, dev, "--", value]).catch((e) => {
          ctx.log.warn("tun", `resolvectl ${verb} ${dev} ${value}: ${e.message}`);
        });
      }
      let note;
      if (full) note = `systemd-resolved on ${dev}: every name goes to ${list2} (~.)`;
      else if (domains.length > 0)
        note = `systemd-resolved on ${dev}: names under ${domains.join(", ")} go to ${list2} (routing domains ${routing.join(" ")}); other names as before`;
      else
        note = `systemd-resolved on ${dev}: names go to ${list2} and to the host's servers alike (no domains pushed)`;
      return { method: "systemd-resolved", routing, note };
    }
    case "resolvconf": {
      const iface = `${resolvconfPrefix()}${dev}`;
      await runWithInput("resolvconf", ["-a", iface], resolvConfText(servers, domains));
      ctx.record({ kind: "dns-resolvconf", dev, iface });
      return {
        method: "resolvconf",
        routing: [],
        note: `resolvconf (${iface}): ${list2} first in line for every name${searchNote(domains)}; no systemd-resolved, so no split DNS`
      };
    }
    case "file": {
      const path = ctx.resolvConf;
      const backup = ctx.backupPath ?? join4(ensureRuntimeDir(), `pid${process.pid}.${netnsKey()}.resolv.conf.bak`);
      const mine = ctx.entries.some((e) => e.kind === "dns-file" && e.backup === backup);
      if (!mine) {
        const existed = existsSync3(path);
        const current = existed ? readFileSync2(path) : Buffer.alloc(0);
        ensurePrivateDir(dirname4(backup), "runtime directory");
        try {
          writeExclusive(backup, current);
        } catch (e) {
          if (e.code !== "EEXIST") throw e;
          ctx.log.warn("tun", `discarding a stale DNS backup ${backup}`);
          unlinkSync2(backup);
          writeExclusive(backup, current);
        }
        ctx.record({ kind: "dns-file", path, backup, existed });
      }
      writeFileSync(path, resolvConfText(servers, domains));
      return {
        method: "resolv.conf",
        routing: [],
        note: `${path} rewritten (restored on exit): every name goes to ${list2}${searchNote(domains)}; no systemd-resolved, so no split DNS`
      };
    }
  }
}
async function chooseBackend(ctx) {
  if (ctx.dnsBackend !== "auto") return ctx.dnsBackend;
  if (findProgram("resolvectl") && resolvedManages(ctx.resolvConf)) {
    try {
      await ctx.run("resolvectl", ["status"]);
      return "resolvectl";
    } catch {
    }
  }
  if (findProgram("resolvconf") && isSymlink(ctx.resolvConf)) return "resolvconf";
  return "file";
}
async function undoDns(e, run) {
  switch (e.kind) {
    case "dns-file": {
      const original = readPrivate(e.backup, MAX_BACKUP_BYTES, "DNS backup");
      if (original === void 0) return;
      if (e.existed === false) rmSync(e.path, { force: true });
      else writeFileSync(e.path, original);
      rmSync(e.backup, { force: true });
      return;
    }
    case "dns-resolvectl":
      await run("resolvectl", ["revert", "--", e.dev]);
      return;
    case "dns-resolvconf":
      await run("resolvconf", ["-d", e.iface ?? `${e.dev}.ikev2-vpn`]);
      return;
  }
}
function isBackend(s) {
  return s === "auto" || s === "resolvectl" || s === "resolvconf" || s === "file";
}
function isSymlink(path) {
  try {
    return lstatSync2(path).isSymbolicLink();
  } catch {
    return false;
  }
}
function resolvedManages(resolvConf) {
  try {
    if (isSymlink(resolvConf) && readlinkSync2(resolvConf).includes("systemd/resolve")) return true;
    return /^nameserver 127\.0\.0\.53$/m.test(readFileSync2(resolvConf, "utf8"));
  } catch {
    return false;
  }
}
function searchNote(domains) {
  return domains.length > 0 ? ` (search ${domains.join(" ")})` : "";
}
function findProgram(name) {
  const dirs = (process.env["PATH"] ?? "").split(delimiter).filter(Boolean);
  for (const d of [...dirs, "/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
    const p = join4(d, name);
    if (existsSync3(p)) return p;
  }
  return void 0;
}
function resolvconfPrefix() {
  try {
    for (const line of readFileSync2("/etc/resolvconf/interface-order", "utf8").split("\n")) {
      const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
      if (m) return `${m[1]}.`;
    }
  } catch {
  }
  return "";
}
function resolvConfText(servers, domains) {
  const lines = [`${MARKER}; restored on disconnect`];
  for (const s of servers) lines.push(`nameserver ${s}`);
  if (domains.length > 0) lines.push(`search ${domains.join(" ")}`);
  return lines.join("\n") + "\n";
}
function runWithInput(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 1e4 }, (err, _out, stderr) => {
      if (err) {
        reject(
          new VpnError("ERR_DNS", `${cmd} ${args.join(" ")}: ${stderr.trim() || err.message}`, {
            cause: err
          })
        );
      } else resolve();
    });
    child.stdin?.end(input);
  });
}

// src/tun/rtnl.ts
import { createRequire as createRequire4 } from "node:module";
var addon2;
function netlinkAddon() {
  if (addon2 !== void 0) return addon2;
  addon2 = null;
  const req3 = createRequire4(import.meta.url);
  for (const c of addonCandidates("tun")) {
    try {
      const a = req3(c.path);
      if (typeof a["rtRoute"] === "function" && typeof a["rtDefaultRoutes"] === "function") {
        addon2 = a;
        break;
      }
    } catch {
    }
  }
  return addon2;
}
function rtNetlink() {
  if (process.env["VPN_NETLINK"] === "0") return void 0;
  return netlinkAddon() ?? void 0;
}
function tunAddonFunction(name) {
  const f = netlinkAddon()?.[name];
  return typeof f === "function" ? f : void 0;
}
function nl(what, f) {
  try {
    return f();
  } catch (e) {
    throw new VpnError("ERR_NETCFG", `${what}: ${e.message}`, { cause: e });
  }
}
function splitCidr(cidr) {
  const i = cidr.indexOf("/");
  return [cidr.slice(0, i), Number(cidr.slice(i + 1))];
}
function tableId(table) {
  return table === void 0 || table === "main" ? 254 : Number(table);
}
function nlRoute(rt, op, r, src) {
  const [dst, len] = splitCidr(r.dest);
  const verb = op === "del" ? "deleting" : op === "add" ? "adding" : "replacing";
  nl(
    `${verb} the route ${r.dest} dev ${r.dev}`,
    () => rt.rtRoute(
      op,
      dst,
      len,
      r.dev,
      r.via ?? null,
      src ?? null,
      r.metric ?? -1,
      tableId(r.table),
      false
    )
  );
}
function nlRule(rt, add2, r) {
  nl(
    `${add2 ? "adding" : "deleting"} the rule from ${r.from} lookup ${r.table}`,
    () => rt.rtRule(add2, r.from, tableId(r.table), r.priority, r.suppress ?? -1)
  );
}
function nlUndo(rt, e) {
  switch (e.kind) {
    case "addr": {
      const [a, len] = splitCidr(e.cidr);
      nl(`deleting ${e.cidr} from ${e.dev}`, () => rt.rtAddr(false, e.dev, a, len));
      return true;
    }
    case "mtu":
      nl(`setting the MTU of ${e.dev}`, () => rt.rtSetLink(e.dev, e.old, -1));
      return true;
    case "up":
      nl(`taking ${e.dev} down`, () => rt.rtSetLink(e.dev, 0, 0));
      return true;
    case "route":
      nlRoute(rt, "del", e);
      return true;
    case "block": {
      const [a, len] = splitCidr(e.dest);
      nl(
        `deleting the unreachable route ${e.dest}`,
        () => rt.rtRoute("del", a, len, null, null, null, e.metric, -1, true)
      );
      return true;
    }
    case "rule":
      nlRule(rt, false, e);
      return true;
    case "dns-file":
    case "dns-resolvectl":
    case "dns-resolvconf":
      return false;
  }
}
function nlDefaultRoutes(rt, v6) {
  return rt.rtDefaultRoutes(v6).map((r) => ({
    dev: r.dev,
    metric: r.metric,
    ...r.via ? { gateway: r.via } : {},
    ...r.src ? { prefsrc: r.src } : {}
  }));
}

// src/tun/netcfg.ts
var defaultRunner = (cmd, args, input) => new Promise((resolve, reject) => {
  const child = execFile2(
    cmd,
    args,
    { timeout: 1e4, maxBuffer: 4 << 20 },
    (err, stdout, stderr) => {
      if (err) {
        const msg = stderr.trim() || err.message;
        reject(new VpnError("ERR_NETCFG", `${cmd} ${args.join(" ")}: ${msg}`, { cause: err }));
      } else resolve({ stdout });
    }
  );
  child.stdin?.on("error", () => void 0);
  child.stdin?.end(input ?? "");
});
var NetConfigurator = class {
  run;
  /** rtnetlink (rtnl.ts) for links, addresses, routes and rules; undefined: `ip` processes. */
  nl;
  log;
  journalPath;
  dnsBackend;
  resolvConf;
  entries = [];
  /** Where 'file' mode keeps the original resolv.conf (`dnsBackupPath`). */
  backupPath;
  constructor(opts2 = {}) {
    this.run = opts2.run ?? defaultRunner;
    this.nl = opts2.netlink === false ? void 0 : opts2.netlink ?? (opts2.run ? void 0 : rtNetlink());
    this.log = opts2.logger ?? NOOP_LOGGER;
    this.journalPath = opts2.journalPath;
    const env = process.env["VPN_DNS_BACKEND"];
    this.dnsBackend = opts2.dnsBackend ?? (isBackend(env) ? env : "auto");
    this.resolvConf = opts2.resolvConf ?? "/etc/resolv.conf";
    this.backupPath = this.journalPath ? dnsBackupPath(this.journalPath) : void 0;
  }
  /** A copy of the changes not yet undone, oldest first. */
  journal() {
    return this.entries.map((e) => ({ ...e }));
  }
  record(...e) {
    this.entries.push(...e);
    this.persist();
  }
  /**
   * Rewrites the journal file atomically (temp file + rename); removes it when empty. The
   * directory must be private (checked every time) and the temp file is created exclusively,
   * never through a symbolic link.
   */
  persist() {
    if (!this.journalPath) return;
    if (this.entries.length === 0) {
      rmSync2(this.journalPath, { force: true });
      return;
    }
    ensurePrivateDir(dirname5(this.journalPath), "runtime directory");
    const file = {
      version: 2,
      pid: process.pid,
      netns: netnsKey(),
      entries: this.entries
    };
    const tmp = `${this.journalPath}.tmp`;
    writeExclusive(tmp, JSON.stringify(file) + "\n");
    renameSync(tmp, this.journalPath);
  }
  /**
   * The state setMtu just read and set, for the setUp that follows it at connect (tunnel.ts):
   * one `ip link show` process less (an `ip` exec costs 10-40 ms of connect time on a loaded
   * host). Taken once and forgotten, so it never stands for a state read long ago.
   */
  linkKnown = /* @__PURE__ */ new Map();
  /** `ip -j link show dev X`: MTU and whether the link is administratively up. */
  async linkState(dev) {
    if (this.nl) {
      try {
        const l = this.nl.rtGetLink(dev);
        return l ? { mtu: l.mtu, up: l.up } : void 0;
      } catch {
        return void 0;
      }
    }
    try {
      const { stdout } = await this.run("ip", ["-j", "link", "show", "dev", dev]);
      const l = JSON.parse(stdout)[0];
      if (typeof l?.mtu !== "number") return void 0;
      return { mtu: l.mtu, up: l.flags?.includes("UP") === true };
    } catch {
      return void 0;
    }
  }
  /** The MTU of `dev`, or undefined if it cannot be read. */
  async linkMtu(dev) {
    return (await this.linkState(dev))?.mtu;
  }
  /** Sets the MTU of `dev`; the old value is journaled when it changes. */
  async setMtu(dev, mtu) {
    checkDev(dev);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new VpnError("ERR_NETCFG", `invalid MTU ${String(mtu)}`);
    }
    const before = await this.linkState(dev);
    if (this.nl) nl(`setting the MTU of ${dev}`, () => this.nl.rtSetLink(dev, mtu, -1));
    else await this.run("ip", ["link", "set", "dev", dev, "mtu", String(mtu)]);
    if (before && before.mtu !== mtu) this.record({ kind: "mtu", dev, old: before.mtu });
    if (before) this.linkKnown.set(dev, { mtu, up: before.up });
  }
  /** Brings `dev` up; journaled (undo: down) when it was down. */
  async setUp(dev) {
    checkDev(dev);
    const known = this.linkKnown.get(dev);
    this.linkKnown.delete(dev);
    const before = known ?? await this.linkState(dev);
    if (this.nl) nl(`bringing ${dev} up`, () => this.nl.rtSetLink(dev, 0, 1));
    else await this.run("ip", ["link", "set", "dev", dev, "up"]);
    if (before && !before.up) this.record({ kind: "up", dev });
  }
  /** Adds an address (`cidr`, e.g. "10.0.0.2/32" or "fd00::2/128") to `dev`. */
  async addAddress(dev, cidr) {
    checkDev(dev);
    checkCidr(cidr);
    if (this.nl) {
      const [a, len] = splitCidr(cidr);
      nl(`adding ${cidr} to ${dev}`, () => this.nl.rtAddr(true, dev, a, len));
    } else await this.run("ip", ["addr", "add", cidr, "dev", dev]);
    this.record({ kind: "addr", dev, cidr });
  }
  /**
   * Adds a route to `dest` (CIDR). Fails if an identical route exists (it is not ours to undo).
   * For a default route through the tunnel use 0.0.0.0/1 + 128.0.0.0/1 (::/1 + 8000::/1), which
   * win over the original default by prefix length and leave it untouched.
   */
  async addRoute(dest, opts2) {
    const sel = routeSelector(dest, opts2);
    if (this.nl) {
      nlRoute(this.nl, "add", sel, opts2.src);
    } else {
      const args = routeArgs("add", sel);
      if (opts2.src !== void 0) args.push("src", opts2.src);
      await this.run("ip", args);
    }
    this.record(sel);
  }
  /**
   * Adds many routes through `opts.dev` with one `ip -batch -` per address family (finding 6:
   * not one process per route). Every value is checked strictly first — a batch line is split on
   * spaces, so nothing from the network may carry one. At most `MAX_ROUTES` routes per
   * configurator. On a failure, the routes before the failing line are journaled (they are ours)
   * and the error is thrown.
   */
  async addRoutes(dests, opts2) {
    const have = this.entries.filter((e) => e.kind === "route").length;
    if (have + dests.length > MAX_ROUTES) {
      throw new VpnError(
        "ERR_NETCFG",
        `refusing to add ${dests.length} routes: at most ${MAX_ROUTES} per tunnel`
      );
    }
    const sels = dests.map((d) => routeSelector(d, opts2));
    if (this.nl) {
      for (const r of sels) {
        nlRoute(this.nl, "add", r, r.dest.includes(":") ? void 0 : opts2.src);
        this.record(r);
      }
      return;
    }
    for (const v6 of [false, true]) {
      const fam = sels.filter((r) => r.dest.includes(":") === v6);
      if (fam.length === 0) continue;
      const lines = fam.map((r) => {
        const a = routeArgs("add", r).filter((x) => x !== "-6");
        if (opts2.src !== void 0 && !v6) a.push("src", opts2.src);
        return a.join(" ");
      });
      try {
        await this.run("ip", [v6 ? "-6" : "-4", "-batch", "-"], lines.join("\n") + "\n");
      } catch (e) {
        const m = /Command failed -:(\d+)/.exec(e.message);
        const done = m ? Math.min(Number(m[1]) - 1, fam.length) : 0;
        if (done > 0) this.record(...fam.slice(0, done));
        throw e;
      }
      this.record(...fam);
    }
  }
  /**
   * Kill switch: an `unreachable` route for `dest` with a high metric. Our tunnel routes (metric 0)
   * win while they exist; whenever they do not (while connecting, or for destinations outside the
   * traffic selectors) packets fail with "network unreachable" instead of leaving unprotected.
   */
  async addBlockRoute(dest, metric = 1e3) {
    checkCidr(dest);
    if (!isU32(metric)) throw new VpnError("ERR_NETCFG", `invalid metric ${metric}`);
    if (this.nl) {
      const [a, len] = splitCidr(dest);
      nl(
        `adding the unreachable route ${dest}`,
        () => this.nl.rtRoute("add", a, len, null, null, null, metric, -1, true)
      );
    } else await this.run("ip", blockArgs("add", dest, metric));
    this.record({ kind: "block", dest, metric });
  }
  /** How the kernel reaches `ip` right now (`ip -j route get`). */
  async getRouteTo(ip) {
    if (isIP6(ip) === 0) throw new VpnError("ERR_NETCFG", `invalid address ${safeJson(ip)}`);
    if (this.nl) {
      const g = nl(`looking up the route to ${ip}`, () => this.nl.rtRouteGet(ip));
      const out2 = { dev: g.dev };
      if (g.via) out2.via = g.via;
      if (g.src) out2.src = g.src;
      return out2;
    }
    const { stdout } = await this.run("ip", ["-j", "route", "get", ip]);
    let r;
    try {
      r = JSON.parse(stdout)[0];
    } catch {
      throw new VpnError("ERR_NETCFG", `cannot parse "ip -j route get ${ip}" output`);
    }
    if (!r?.dev) throw new VpnError("ERR_NETCFG", `no route to ${ip}`);
    const out = { dev: r.dev };
    if (r.gateway) out.via = r.gateway;
    if (r.prefsrc) out.src = r.prefsrc;
    return out;
  }
  /**
   * Pins a host route to `dest` (the VPN gateway) through `gateway`/`dev` — by default through
   * the path the kernel uses now — so routing everything into the tunnel does not capture the
   * tunnel's own packets. A host route that is already there is left alone (and not journaled).
   */
  async addHostRouteVia(dest, gateway, dev) {
    let path;
    if (dev !== void 0) path = gateway !== void 0 ? { dev, via: gateway } : { dev };
    else path = await this.getRouteTo(dest);
    const host = dest.includes(":") ? `${dest}/128` : `${dest}/32`;
    try {
      await this.addRoute(
        host,
        path.via !== void 0 ? { dev: path.dev, via: path.via } : { dev: path.dev }
      );
    } catch (e) {
      if (!/File exists/i.test(e.message)) throw e;
      this.log.debug("tun", `host route to ${dest} already present; keeping it`);
    }
  }
  /**
   * Full tunnel: keeps the connections opened before it on the path they had. Packets from `src`
   * (the uplink address those connections use) look up the main table without its /0 and /1
   * routes (`suppress_prefixlength 1`: our split default and the old default are skipped, host
   * and on-link routes still apply), then table BYPASS_TABLE, which holds only the original
   * default route `path`. New connections get the virtual IP as their source from the tunnel's
   * routes, so no rule matches them: they go through the tunnel. A table route that is already
   * there (another full tunnel) is left alone and not journaled.
   */
  async addBypass(src, path) {
    const fam = isIP6(src);
    if (fam === 0) throw new VpnError("ERR_NETCFG", `invalid source address ${safeJson(src)}`);
    const v6 = fam === 6;
    const opts2 = { dev: path.dev, table: String(BYPASS_TABLE) };
    if (path.via !== void 0) opts2.via = path.via;
    try {
      await this.addRoute(v6 ? "::/0" : "0.0.0.0/0", opts2);
    } catch (e) {
      if (!/File exists/i.test(e.message)) throw e;
    }
    const rules = [
      { kind: "rule", from: src, table: "main", priority: BYPASS_PRIORITY, suppress: 1 },
      { kind: "rule", from: src, table: String(BYPASS_TABLE), priority: BYPASS_PRIORITY + 1 }
    ];
    for (const r of rules) {
      if (this.nl) nlRule(this.nl, true, r);
      else await this.run("ip", ruleArgs("add", r));
      this.record(r);
    }
  }
  /**
   * The default route the host would use for `family` without the tunnel: the main table's
   * default with the lowest metric, ignoring `exclude` (our TUN device). Undefined when offline.
   */
  async defaultPath(v6, exclude) {
    let routes;
    try {
      const args = [v6 ? "-6" : "-4", "-j", "route", "show", "default"];
      routes = this.nl ? nlDefaultRoutes(this.nl, v6) : JSON.parse((await this.run("ip", args)).stdout);
    } catch {
      return void 0;
    }
    const best = routes.filter((r) => r.dev !== void 0 && r.dev !== exclude).sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
    if (!best?.dev) return void 0;
    const out = { dev: best.dev };
    if (best.gateway) out.via = best.gateway;
    if (best.prefsrc) out.src = best.prefsrc;
    return out;
  }
  /** The path of the host route to `dest` we pinned (addHostRouteVia), if any. */
  pinnedPath(dest) {
    const host = dest.includes(":") ? `${dest}/128` : `${dest}/32`;
    const e = this.entries.find((x) => x.kind === "route" && x.dest === host);
    if (e?.kind !== "route") return void 0;
    return e.via !== void 0 ? { dev: e.dev, via: e.via } : { dev: e.dev };
  }
  /**
   * Moves our pinned host route to `dest` onto `path` (the network changed under the tunnel:
   * RFC 4555 roaming) and updates the journal so the new route is the one undone.
   */
  async repinHostRoute(dest, path) {
    const host = dest.includes(":") ? `${dest}/128` : `${dest}/32`;
    const e = this.entries.find((x) => x.kind === "route" && x.dest === host);
    if (e?.kind !== "route") return false;
    const sel = routeSelector(
      host,
      path.via !== void 0 ? { dev: path.dev, via: path.via } : { dev: path.dev }
    );
    if (this.nl) nlRoute(this.nl, "replace", sel);
    else await this.run("ip", routeArgs("replace", sel));
    e.dev = sel.dev;
    if (sel.via !== void 0) e.via = sel.via;
    else delete e.via;
    this.persist();
    return true;
  }
  /** Points the resolver at `servers` while the tunnel is up: see `configureDns` (dns.ts). */
  async setDns(dev, servers, domains, opts2 = {}) {
    const ctx = {
      run: this.run,
      log: this.log,
      dnsBackend: this.dnsBackend,
      resolvConf: this.resolvConf,
      backupPath: this.backupPath,
      entries: this.entries,
      record: (...e) => this.record(...e)
    };
    return configureDns(ctx, dev, servers, domains, opts2);
  }
  /**
   * Undoes every change in reverse order. Best effort: a failing step is logged and collected,
   * the remaining steps still run, and the promise resolves with the failures (empty when all
   * went well). It never rejects.
   */
  async restore() {
    const errors = [];
    while (this.entries.length > 0) {
      const n = batchableTail(this.entries);
      const steps = this.entries.slice(this.entries.length - Math.max(n, 1)).reverse();
      errors.push(...await undoAll(steps, this.run, this.nl));
      this.entries.length -= steps.length;
      try {
        this.persist();
      } catch (err) {
        errors.push(`journal ${this.journalPath ?? ""}: ${err.message}`);
      }
    }
    if (errors.length > 0) {
      this.log.warn("tun", `some settings could not be restored: ${errors.join("; ")}`);
    }
    return errors;
  }
  /**
   * Replays the journal at `journalPath` left by a process that could not clean up (kill -9,
   * power loss), then deletes it — only after `readJournal` checked the directory, the file and
   * every entry (one bad entry: the whole journal is refused and nothing runs). A journal whose
   * owner is still running is left alone unless `force`. Returns true when there was something
   * to undo.
   * @throws VpnError ERR_PRIVILEGE / ERR_NETCFG when the journal is refused.
   */
  static async recover(journalPath, run = defaultRunner, opts2 = {}) {
    const j = readJournal(journalPath, opts2);
    if (!j) return false;
    if (!opts2.force && j.pid !== process.pid && isAlive(j.pid)) return false;
    await undoAll([...j.entries].reverse(), run);
    rmSync2(journalPath, { force: true });
    return j.entries.length > 0;
  }
};
function checkDev(dev) {
  if (!isDevName(dev)) throw new VpnError("ERR_NETCFG", `invalid interface name ${safeJson(dev)}`);
}
function checkCidr(cidr) {
  if (!isCidr(cidr)) throw new VpnError("ERR_NETCFG", `invalid network ${safeJson(cidr)}`);
}
function routeSelector(dest, opts2) {
  checkCidr(dest);
  checkDev(opts2.dev);
  const v6 = dest.includes(":");
  const sel = { kind: "route", dest, dev: opts2.dev };
  if (opts2.via !== void 0) {
    if (isIP6(opts2.via) !== (v6 ? 6 : 4)) {
      throw new VpnError("ERR_NETCFG", `invalid next hop ${safeJson(opts2.via)} for ${dest}`);
    }
    sel.via = opts2.via;
  }
  if (opts2.src !== void 0 && isIP6(opts2.src) === 0) {
    throw new VpnError("ERR_NETCFG", `invalid source address ${safeJson(opts2.src)}`);
  }
  if (opts2.metric !== void 0) {
    if (!isU32(opts2.metric)) throw new VpnError("ERR_NETCFG", `invalid metric ${opts2.metric}`);
    sel.metric = opts2.metric;
  }
  if (opts2.table !== void 0) {
    if (!/^(main|[0-9]{1,10})$/.test(opts2.table)) {
      throw new VpnError("ERR_NETCFG", `invalid routing table ${safeJson(opts2.table)}`);
    }
    sel.table = opts2.table;
  }
  return sel;
}
function blockArgs(op, dest, metric) {
  return [
    ...dest.includes(":") ? ["-6"] : [],
    "route",
    op,
    "unreachable",
    dest,
    "metric",
    String(metric)
  ];
}
function routeArgs(op, r) {
  const args = r.dest.includes(":") ? ["-6", "route", op, r.dest] : ["route", op, r.dest];
  if (r.via !== void 0) args.push("via", r.via);
  args.push("dev", r.dev);
  if (r.metric !== void 0) args.push("metric", String(r.metric));
  if (r.table !== void 0) args.push("table", r.table);
  return args;
}
function ruleArgs(op, r) {
  const args = [...r.from.includes(":") ? ["-6"] : [], "rule", op, "from", r.from];
  args.push("lookup", r.table);
  if (r.suppress !== void 0) args.push("suppress_prefixlength", String(r.suppress));
  args.push("priority", String(r.priority));
  return args;
}
function isGone(err) {
  const m = err.message;
  return /Cannot find device|No such device|No such process|No such file|does not exist|Cannot assign requested address|not found|Link .* not known/i.test(
    m
  );
}
async function undo(e, run) {
  try {
    switch (e.kind) {
      case "addr":
        await run("ip", ["addr", "del", e.cidr, "dev", e.dev]);
        return;
      case "mtu":
        await run("ip", ["link", "set", "dev", e.dev, "mtu", String(e.old)]);
        return;
      case "up":
        await run("ip", ["link", "set", "dev", e.dev, "down"]);
        return;
      case "route":
        await run("ip", routeArgs("del", e));
        return;
      case "block":
        await run("ip", blockArgs("del", e.dest, e.metric));
        return;
      case "rule":
        await run("ip", ruleArgs("del", e));
        return;
      case "dns-file":
      case "dns-resolvectl":
      case "dns-resolvconf":
        await undoDns(e, run);
        return;
    }
  } catch (err) {
    if (!isGone(err)) throw err;
  }
}
function batchableTail(entries) {
  let n = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    const k = entries[i].kind;
    if (k !== "route" && k !== "block" && k !== "addr") break;
    n++;
  }
  return n;
}
function undoArgs(e) {
  switch (e.kind) {
    case "route":
      return routeArgs("del", e).filter((x) => x !== "-6");
    case "block":
      return blockArgs("del", e.dest, e.metric).filter((x) => x !== "-6");
    case "addr":
      return ["addr", "del", e.cidr, "dev", e.dev];
    case "mtu":
    case "up":
    case "rule":
    case "dns-file":
    case "dns-resolvectl":
    case "dns-resolvconf":
      return void 0;
  }
}
function familyOf(e) {
  const v = e.kind === "addr" ? e.cidr : e.kind === "route" || e.kind === "block" ? e.dest : "";
  return v.includes(":") ? 6 : 4;
}
async function undoAll(steps, run, rt) {
  const errors = [];
  if (rt) {
    for (const e of steps) {
      try {
        if (!nlUndo(rt, e)) await undo(e, run);
      } catch (err) {
        if (!isGone(err)) errors.push(err.message);
      }
    }
    return errors;
  }
  let i = 0;
  while (i < steps.length) {
    let j = i;
    while (j < steps.length && undoArgs(steps[j]) !== void 0) j++;
    if (j === i) {
      try {
        await undo(steps[i], run);
      } catch (err) {
        errors.push(err.message);
      }
      i++;
      continue;
    }
    for (const fam of [4, 6]) {
      const lines = steps.slice(i, j).filter((e) => familyOf(e) === fam).map((e) => undoArgs(e).join(" "));
      if (lines.length === 0) continue;
      try {
        await run("ip", [`-${fam}`, "-force", "-batch", "-"], lines.join("\n") + "\n");
      } catch (err) {
        const msg = err.message;
        const real = msg.split("\n").filter((l) => !/^Command failed/.test(l.trim()) && l.trim() !== "").filter((l) => !isGone(new Error(l)));
        if (real.length > 0) errors.push(`ip -batch: ${real.join("; ")}`);
      }
    }
    i = j;
  }
  return errors;
}

// src/client/io.ts
var realTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h)
};
async function resolveGateway(host) {
  if (isIP7(host)) return host;
  try {
    const r = await lookup(host);
    return r.address;
  } catch (e) {
    const code = e.code ?? "error";
    throw new VpnError("ERR_RESOLVE", `cannot resolve gateway "${host}" (${code})`, { cause: e });
  }
}
function realIo() {
  return {
    now: () => Date.now(),
    timers: realTimers,
    resolve: resolveGateway,
    localAddressFor,
    openTun,
    openUdp: (family, port, handlers) => UdpTransport.open(family, port, handlers),
    hostNetwork: (opts2) => new NetConfigurator(opts2)
  };
}
var NamedTimers = class {
  entries = /* @__PURE__ */ new Map();
  timers;
  watch;
  /** When the last sleep was reported: timers due before it are leftovers of that sleep. */
  lateSeenAt = -Infinity;
  constructor(timers, watch) {
    this.timers = timers;
    this.watch = watch;
  }
  set(name, ms, fn) {
    this.clear(name);
    const due = this.watch ? this.watch.now() + Math.max(0, ms) : 0;
    const h = this.timers.set(
      () => {
        if (this.entries.get(name) !== h) return;
        const w = this.watch;
        if (w && w.thresholdMs > 0) {
          const now = w.now();
          if (now - due >= w.thresholdMs && due > this.lateSeenAt) {
            this.lateSeenAt = now;
            w.onLate(now - due);
            if (this.entries.get(name) !== h) return;
          }
        }
        this.entries.delete(name);
        fn();
      },
      Math.max(0, ms)
    );
    this.entries.set(name, h);
  }
  has(name) {
    return this.entries.has(name);
  }
  clear(name) {
    const h = this.entries.get(name);
    if (h !== void 0) this.timers.clear(h);
    this.entries.delete(name);
  }
  clearAll() {
    for (const h of this.entries.values()) this.timers.clear(h);
    this.entries.clear();
  }
};

// src/ikev1/auth.ts
import { constants as constants3, privateEncrypt, publicDecrypt } from "node:crypto";

// node_modules/@noble/hashes/hmac.js
var _HMAC = class {
  oHash;
  iHash;
  blockLen;
  outputLen;
  canXOF = false;
  finished = false;
  destroyed = false;
  constructor(hash, key) {
    ahash(hash);
    abytes(key, void 0, "key");
    this.iHash = hash.create();
    if (typeof this.iHash.update !== "function")
      throw new Error("expected Hash instance");
    this.blockLen = this.iHash.blockLen;
    this.outputLen = this.iHash.outputLen;
    const blockLen = this.blockLen;
    const pad = new Uint8Array(blockLen);
    pad.set(key.length > blockLen ? hash.create().update(key).digest() : key);
    for (let i = 0; i < pad.length; i++)
      pad[i] ^= 54;
    this.iHash.update(pad);
    this.oHash = hash.create();
    for (let i = 0; i < pad.length; i++)
      pad[i] ^= 54 ^ 92;
    this.oHash.update(pad);
    clean(pad);
  }
  update(buf) {
    aexists(this);
    this.iHash.update(buf);
    return this;
  }
  digestInto(out) {
    aexists(this);
    aoutput(out, this);
    this.finished = true;
    const buf = out.subarray(0, this.outputLen);
    this.iHash.digestInto(buf);
    this.oHash.update(buf);
    this.oHash.digestInto(buf);
    this.destroy();
  }
  digest() {
    const out = new Uint8Array(this.oHash.outputLen);
    this.digestInto(out);
    return out;
  }
  _cloneInto(to) {
    to ||= Object.create(Object.getPrototypeOf(this), {});
    const { oHash, iHash, finished, destroyed, blockLen, outputLen, canXOF } = this;
    to = to;
    to.finished = finished;
    to.destroyed = destroyed;
    to.blockLen = blockLen;
    to.outputLen = outputLen;
    to.canXOF = canXOF;
    to.oHash = oHash._cloneInto(to.oHash);
    to.iHash = iHash._cloneInto(to.iHash);
    return to;
  }
  clone() {
    return this._cloneInto();
  }
  destroy() {
    this.destroyed = true;
    this.oHash.destroy();
    this.iHash.destroy();
  }
};
var hmac = /* @__PURE__ */ (() => {
  const hmac_ = ((hash, key, message) => new _HMAC(hash, key).update(message).digest());
  hmac_.create = (hash, key) => new _HMAC(hash, key);
  return hmac_;
})();

// node_modules/@noble/curves/abstract/der.js
var _0n9 = /* @__PURE__ */ BigInt(0);
var DERErr = class extends Error {
  constructor(m = "") {
    super(m);
  }
};
var _DER = {
  // asn.1 DER encoding utils
  Err: DERErr,
  // Basic building block is TLV (Tag-Length-Value)
  _tlv: {
    encode: (tag, data) => {
      const { Err: E2 } = _DER;
      asafenumber(tag, "tag");
      if (tag < 0 || tag > 255)
        throw new E2("tlv.encode: wrong tag");
      astring(data, "data");
      if (data.length & 1)
        throw new E2("tlv.encode: unpadded data");
      const dataLen = data.length / 2;
      const len = numberToHexUnpadded(dataLen);
      if (len.length / 2 & 128)
        throw new E2("tlv.encode: long form length too big");
      const lenLen = dataLen > 127 ? numberToHexUnpadded(len.length / 2 | 128) : "";
      const t = numberToHexUnpadded(tag);
      return t + lenLen + len + data;
    },
    // v - value, l - left bytes (unparsed)
    decode(tag, data) {
      const { Err: E2 } = _DER;
      data = abytes2(data, void 0, "DER data");
      let pos = 0;
      if (tag < 0 || tag > 255)
        throw new E2("tlv.decode: wrong tag");
      if (data.length < 2 || data[pos++] !== tag)
        throw new E2("tlv.decode: wrong tlv");
      const first = data[pos++];
      const isLong = !!(first & 128);
      let length = 0;
      if (!isLong)
        length = first;
      else {
        const lenLen = first & 127;
        if (!lenLen)
          throw new E2("tlv.decode(long): indefinite length not supported");
        if (lenLen > 4)
          throw new E2("tlv.decode(long): byte length is too big");
        const lengthBytes = data.subarray(pos, pos + lenLen);
        if (lengthBytes.length !== lenLen)
          throw new E2("tlv.decode: length bytes not complete");
        if (lengthBytes[0] === 0)
          throw new E2("tlv.decode(long): zero leftmost byte");
        for (const b of lengthBytes)
          length = length << 8 | b;
        pos += lenLen;
        if (length < 128)
          throw new E2("tlv.decode(long): not minimal encoding");
      }
      const v = data.subarray(pos, pos + length);
      if (v.length !== length)
        throw new E2("tlv.decode: wrong value length");
      return { v, l: data.subarray(pos + length) };
    }
  },
  // https://crypto.stackexchange.com/a/57734 Leftmost bit of first byte is 'negative' flag,
  // since we always use positive integers here. It must always be empty:
  // - add zero byte if exists
  // - if next byte doesn't have a flag, leading zero is not allowed (minimal encoding)
  _int: {
    encode(num) {
      const { Err: E2 } = _DER;
      abignumber(num);
      if (num < _0n9)
        throw new E2("integer: negative integers are not allowed");
      let hex3 = numberToHexUnpadded(num);
      if (Number.parseInt(hex3[0], 16) & 8)
        hex3 = "00" + hex3;
      if (hex3.length & 1)
        throw new E2("unexpected DER parsing assertion: unpadded hex");
      return hex3;
    },
    decode(data) {
      const { Err: E2 } = _DER;
      if (data.length < 1)
        throw new E2("invalid signature integer: empty");
      if (data[0] & 128)
        throw new E2("invalid signature integer: negative");
      if (data.length > 1 && data[0] === 0 && !(data[1] & 128))
        throw new E2("invalid signature integer: unnecessary leading zero");
      return bytesToNumberBE(data);
    }
  },
  toSig(bytes, maxScalarBytes) {
    const { Err: E2, _int: int, _tlv: tlv2 } = _DER;
    if (maxScalarBytes !== void 0) {
      asafenumber(maxScalarBytes, "maxScalarBytes");
      if (maxScalarBytes < 1)
        throw new E2("invalid signature: maxScalarBytes must be positive");
    }
    const data = abytes2(bytes, void 0, "signature");
    const { v: seqBytes, l: seqLeftBytes } = tlv2.decode(48, data);
    if (seqLeftBytes.length)
      throw new E2("invalid signature: left bytes after parsing");
    const { v: rBytes, l: rLeftBytes } = tlv2.decode(2, seqBytes);
    const { v: sBytes, l: sLeftBytes } = tlv2.decode(2, rLeftBytes);
    if (sLeftBytes.length)
      throw new E2("invalid signature: left bytes after parsing");
    if (maxScalarBytes !== void 0 && (rBytes.length > maxScalarBytes || sBytes.length > maxScalarBytes))
      throw new E2("invalid signature: integer too large");
    return { r: int.decode(rBytes), s: int.decode(sBytes) };
  },
  hexFromSig(sig) {
    const { _tlv: tlv2, _int: int } = _DER;
    validateObject(sig, { r: "bigint", s: "bigint" }, {}, "sig");
    const rs = tlv2.encode(2, int.encode(sig.r));
    const ss = tlv2.encode(2, int.encode(sig.s));
    const seq2 = rs + ss;
    return tlv2.encode(48, seq2);
  }
};
var DER = /* @__PURE__ */ (() => {
  Object.freeze(_DER._tlv);
  Object.freeze(_DER._int);
  return Object.freeze(_DER);
})();

// node_modules/@noble/curves/abstract/weierstrass.js
var divNearest = (num, den) => (num + (num >= 0 ? den : -den) / _2n7) / den;
function _splitEndoScalar(k, basis, n) {
  aInRange("scalar", k, _0n10, n);
  const [[a1, b1], [a2, b2]] = basis;
  const c1 = divNearest(b2 * k, n);
  const c2 = divNearest(-b1 * k, n);
  let k1 = k - c1 * a1 - c2 * a2;
  let k2 = -c1 * b1 - c2 * b2;
  const k1neg = k1 < _0n10;
  const k2neg = k2 < _0n10;
  if (k1neg)
    k1 = -k1;
  if (k2neg)
    k2 = -k2;
  const MAX_NUM = bitMask(Math.ceil(bitLen(n) / 2)) + _1n9;
  if (k1 < _0n10 || k1 >= MAX_NUM || k2 < _0n10 || k2 >= MAX_NUM) {
    throw new Error("splitScalar (endomorphism): failed for k");
  }
  return { k1neg, k1, k2neg, k2 };
}
function validateSigFormat(format) {
  if (!["compact", "recovered", "der"].includes(format))
    throw new Error('Signature format must be "compact", "recovered", or "der"');
  return format;
}
function validateSigOpts(opts2, def) {
  validateObject(opts2);
  const optsn = {};
  for (let optName of Object.keys(def)) {
    optsn[optName] = opts2[optName] === void 0 ? def[optName] : opts2[optName];
  }
  abool2(optsn.lowS, "lowS");
  abool2(optsn.prehash, "prehash");
  if (optsn.format !== void 0)
    validateSigFormat(optsn.format);
  return optsn;
}
var _0n10 = /* @__PURE__ */ BigInt(0);
var _1n9 = /* @__PURE__ */ BigInt(1);
var _2n7 = /* @__PURE__ */ BigInt(2);
var _3n4 = /* @__PURE__ */ BigInt(3);
var _4n4 = /* @__PURE__ */ BigInt(4);
function weierstrass(params2, extraOpts = {}) {
  const validated = createCurveFields("weierstrass", params2, extraOpts);
  const Fp2 = validated.Fp;
  const Fn2 = validated.Fn;
  let CURVE = validated.CURVE;
  const { h: cofactor, n: CURVE_ORDER } = CURVE;
  validateObject(extraOpts, {}, {
    allowInfinityPoint: "boolean",
    clearCofactor: "function",
    isTorsionFree: "function",
    fromBytes: "function",
    toBytes: "function",
    endo: "object",
    randomBytes: "function"
  });
  const { endo: endoOpts, allowInfinityPoint, clearCofactor, isTorsionFree, fromBytes, toBytes } = extraOpts;
  const randomBytes5 = extraOpts.randomBytes === void 0 ? randomBytes2 : extraOpts.randomBytes;
  if (endoOpts) {
    if (!Fp2.is0(CURVE.a) || typeof endoOpts.beta !== "bigint" || !Array.isArray(endoOpts.basises)) {
      throw new Error('invalid endo: expected "beta": bigint and "basises": array');
    }
  }
  const endo = endoOpts ? {
    beta: endoOpts.beta,
    basises: endoOpts.basises.map((basis) => [...basis])
  } : void 0;
  const lengths = getWLengths(Fp2, Fn2);
  function assertCompressionIsSupported() {
    if (!Fp2.isOdd)
      throw new Error("compression is not supported: Field does not have .isOdd()");
  }
  function pointToBytes(_c, point, isCompressed) {
    if (point.is0()) {
      if (!allowInfinityPoint)
        throw new Error("bad point: ZERO");
      return Uint8Array.of(0);
    }
    const { x, y } = point.toAffine();
    const bx = Fp2.toBytes(x);
    abool2(isCompressed, "isCompressed");
    if (isCompressed) {
      assertCompressionIsSupported();
      const hasEvenY = !Fp2.isOdd(y);
      return concatBytes3(pprefix(hasEvenY), bx);
    } else {
      return concatBytes3(Uint8Array.of(4), bx, Fp2.toBytes(y));
    }
  }
  function pointFromBytes(bytes) {
    abytes2(bytes, void 0, "Point");
    const { publicKey: comp, publicKeyUncompressed: uncomp } = lengths;
    const length = bytes.length;
    const head = bytes[0];
    const tail = bytes.subarray(1);
    if (allowInfinityPoint && length === 1 && head === 0)
      return { x: Fp2.ZERO, y: Fp2.ZERO };
    if (length === comp && (head === 2 || head === 3)) {
      const x = Fp2.fromBytes(tail);
      if (!Fp2.isValid(x))
        throw new Error("bad point: is not on curve, wrong x");
      const y2 = weierstrassEquation(x);
      let y;
      try {
        y = Fp2.sqrt(y2);
      } catch (sqrtError) {
        const err = sqrtError instanceof Error ? ": " + sqrtError.message : "";
        throw new Error("bad point: is not on curve, sqrt error" + err);
      }
      assertCompressionIsSupported();
      const evenY = Fp2.isOdd(y);
      const evenH = (head & 1) === 1;
      if (evenH !== evenY)
        y = Fp2.neg(y);
      return { x, y };
    } else if (length === uncomp && head === 4) {
      const L = Fp2.BYTES;
      const x = Fp2.fromBytes(tail.subarray(0, L));
      const y = Fp2.fromBytes(tail.subarray(L, L * 2));
      if (!isValidXY(x, y))
        throw new Error("bad point: is not on curve");
      return { x, y };
    } else {
      throw new Error(`bad point: got length ${length}, expected compressed=${comp} or uncompressed=${uncomp}`);
    }
  }
  const encodePoint = toBytes === void 0 ? pointToBytes : toBytes;
  const decodePoint = fromBytes === void 0 ? pointFromBytes : fromBytes;
  const b3 = Fp2.mul(CURVE.b, _3n4);
  const mulA = Fp2.is0(CURVE.a) ? (_) => Fp2.ZERO : (x) => Fp2.mul(CURVE.a, x);
  function weierstrassEquation(x) {
    const x2 = Fp2.sqr(x);
    const x3 = Fp2.mul(x2, x);
    return Fp2.add(Fp2.add(x3, Fp2.mul(x, CURVE.a)), CURVE.b);
  }
  function isValidXY(x, y) {
    const left = Fp2.sqr(y);
    const right = weierstrassEquation(x);
    return Fp2.eql(left, right);
  }
  if (!isValidXY(CURVE.Gx, CURVE.Gy))
    throw new Error("bad curve params: generator point");
  const _4a3 = Fp2.mul(Fp2.pow(CURVE.a, _3n4), _4n4);
  const _27b2 = Fp2.mul(Fp2.sqr(CURVE.b), BigInt(27));
  if (Fp2.is0(Fp2.add(_4a3, _27b2)))
    throw new Error("bad curve params: a or b");
  function acoord(title, n, banZero = false) {
    if (!Fp2.isValid(n) || banZero && Fp2.is0(n))
      throw new Error(`bad point coordinate ${title}`);
    return typeof n === "object" && n !== null ? Fp2.create(n) : n;
  }
  function aprjpoint(other) {
    if (!(other instanceof Point))
      throw new Error("Weierstrass Point expected");
  }
  function splitEndoScalarN(k) {
    if (!endo || !endo.basises)
      throw new Error("no endo");
    return _splitEndoScalar(k, endo.basises, Fn2.ORDER);
  }
  function pushWnafPair(points, scalars, p, k) {
    if (!Fn2.isValid(k))
      throw new RangeError("invalid scalar: out of range");
    if (endo) {
      const { k1neg, k1, k2neg, k2 } = splitEndoScalarN(k);
      const psi = new Point(Fp2.mul(p.X, endo.beta), p.Y, p.Z);
      points.push(k1neg ? p.negate() : p, k2neg ? psi.negate() : psi);
      scalars.push(k1, k2);
    } else {
      points.push(p);
      scalars.push(k);
    }
  }
  const validityCache = /* @__PURE__ */ new WeakSet();
  class Point {
    static BASE = new Point(CURVE.Gx, CURVE.Gy, Fp2.ONE);
    static ZERO = new Point(Fp2.ZERO, Fp2.ONE, Fp2.ZERO);
    static Fp = Fp2;
    static Fn = Fn2;
    X;
    Y;
    Z;
    /** Does NOT validate if the point is valid. Use `.assertValidity()`. */
    constructor(X, Y, Z) {
      this.X = acoord("x", X);
      this.Y = acoord("y", Y, true);
      this.Z = acoord("z", Z);
      Object.freeze(this);
    }
    static CURVE() {
      return CURVE;
    }
    /** Does NOT validate if the point is valid. Use `.assertValidity()`. */
    static fromAffine(p) {
      const { x, y } = p || {};
      if (!p || !Fp2.isValid(x) || !Fp2.isValid(y))
        throw new Error("invalid affine point");
      if (p instanceof Point)
        throw new Error("projective point not allowed");
      if (Fp2.is0(x) && Fp2.is0(y))
        return Point.ZERO;
      return new Point(x, y, Fp2.ONE);
    }
    static fromBytes(bytes) {
      const P3 = Point.fromAffine(decodePoint(abytes2(bytes, void 0, "point")));
      P3.assertValidity();
      return P3;
    }
    static fromHex(hex3) {
      return Point.fromBytes(hexToBytes2(hex3));
    }
    get x() {
      return this.toAffine().x;
    }
    get y() {
      return this.toAffine().y;
    }
    /**
     * @param isLazy - true will defer table computation until the first multiplication
     */
    precompute(windowSize = 6, isLazy = true) {
      wnaf.setWindowSize(this, windowSize);
      if (!isLazy)
        this.multiply(_3n4);
      return this;
    }
    // TODO: return `this`
    /** A point on curve is valid if it conforms to equation. */
    assertValidity() {
      const p = this;
      if (p.is0()) {
        if (allowInfinityPoint && Fp2.is0(p.X) && Fp2.eql(p.Y, Fp2.ONE) && Fp2.is0(p.Z))
          return;
        throw new Error("bad point: ZERO");
      }
      if (validityCache.has(p))
        return;
      const { x, y } = p.toAffine();
      if (!Fp2.isValid(x) || !Fp2.isValid(y))
        throw new Error("bad point: x or y not field elements");
      if (!isValidXY(x, y))
        throw new Error("bad point: equation left != right");
      if (!p.isTorsionFree())
        throw new Error("bad point: not in prime-order subgroup");
      validityCache.add(p);
    }
    hasEvenY() {
      const { y } = this.toAffine();
      if (!Fp2.isOdd)
        throw new Error("Field doesn't support isOdd");
      return !Fp2.isOdd(y);
    }
    /** Compare one point to another. */
    equals(other) {
      aprjpoint(other);
      const { X: X1, Y: Y1, Z: Z1 } = this;
      const { X: X2, Y: Y2, Z: Z2 } = other;
      const U1 = Fp2.eql(Fp2.mul(X1, Z2), Fp2.mul(X2, Z1));
      const U2 = Fp2.eql(Fp2.mul(Y1, Z2), Fp2.mul(Y2, Z1));
      return U1 && U2;
    }
    /** Flips point to one corresponding to (x, -y) in Affine coordinates. */
    negate() {
      return new Point(this.X, Fp2.neg(this.Y), this.Z);
    }
    // Renes-Costello-Batina exception-free doubling formula.
    // There is 30% faster Jacobian formula, but it is not complete.
    // https://eprint.iacr.org/2015/1060, algorithm 3
    // Cost: 8M + 3S + 3*a + 2*b3 + 15add.
    double() {
      const { X: X1, Y: Y1, Z: Z1 } = this;
      let X3 = Fp2.ZERO, Y3 = Fp2.ZERO, Z3 = Fp2.ZERO;
      let t0 = Fp2.mul(X1, X1);
      let t1 = Fp2.mul(Y1, Y1);
      let t2 = Fp2.mul(Z1, Z1);
      let t3 = Fp2.mul(X1, Y1);
      t3 = Fp2.add(t3, t3);
      Z3 = Fp2.mul(X1, Z1);
      Z3 = Fp2.add(Z3, Z3);
      X3 = mulA(Z3);
      Y3 = Fp2.mul(b3, t2);
      Y3 = Fp2.add(X3, Y3);
      X3 = Fp2.sub(t1, Y3);
      Y3 = Fp2.add(t1, Y3);
      Y3 = Fp2.mul(X3, Y3);
      X3 = Fp2.mul(t3, X3);
      Z3 = Fp2.mul(b3, Z3);
      t2 = mulA(t2);
      t3 = Fp2.sub(t0, t2);
      t3 = mulA(t3);
      t3 = Fp2.add(t3, Z3);
      Z3 = Fp2.add(t0, t0);
      t0 = Fp2.add(Z3, t0);
      t0 = Fp2.add(t0, t2);
      t0 = Fp2.mul(t0, t3);
      Y3 = Fp2.add(Y3, t0);
      t2 = Fp2.mul(Y1, Z1);
      t2 = Fp2.add(t2, t2);
      t0 = Fp2.mul(t2, t3);
      X3 = Fp2.sub(X3, t0);
      Z3 = Fp2.mul(t2, t1);
      Z3 = Fp2.add(Z3, Z3);
      Z3 = Fp2.add(Z3, Z3);
      return new Point(X3, Y3, Z3);
    }
    // Renes-Costello-Batina exception-free addition formula.
    // There is 30% faster Jacobian formula, but it is not complete.
    // https://eprint.iacr.org/2015/1060, algorithm 1
    // Cost: 12M + 0S + 3*a + 3*b3 + 23add.
    add(other) {
      aprjpoint(other);
      const { X: X1, Y: Y1, Z: Z1 } = this;
      const { X: X2, Y: Y2, Z: Z2 } = other;
      let X3 = Fp2.ZERO, Y3 = Fp2.ZERO, Z3 = Fp2.ZERO;
      let t0 = Fp2.mul(X1, X2);
      let t1 = Fp2.mul(Y1, Y2);
      let t2 = Fp2.mul(Z1, Z2);
      let t3 = Fp2.add(X1, Y1);
      let t4 = Fp2.add(X2, Y2);
      t3 = Fp2.mul(t3, t4);
      t4 = Fp2.add(t0, t1);
      t3 = Fp2.sub(t3, t4);
      t4 = Fp2.add(X1, Z1);
      let t5 = Fp2.add(X2, Z2);
      t4 = Fp2.mul(t4, t5);
      t5 = Fp2.add(t0, t2);
      t4 = Fp2.sub(t4, t5);
      t5 = Fp2.add(Y1, Z1);
      X3 = Fp2.add(Y2, Z2);
      t5 = Fp2.mul(t5, X3);
      X3 = Fp2.add(t1, t2);
      t5 = Fp2.sub(t5, X3);
      Z3 = mulA(t4);
      X3 = Fp2.mul(b3, t2);
      Z3 = Fp2.add(X3, Z3);
      X3 = Fp2.sub(t1, Z3);
      Z3 = Fp2.add(t1, Z3);
      Y3 = Fp2.mul(X3, Z3);
      t1 = Fp2.add(t0, t0);
      t1 = Fp2.add(t1, t0);
      t2 = mulA(t2);
      t4 = Fp2.mul(b3, t4);
      t1 = Fp2.add(t1, t2);
      t2 = Fp2.sub(t0, t2);
      t2 = mulA(t2);
      t4 = Fp2.add(t4, t2);
      t0 = Fp2.mul(t1, t4);
      Y3 = Fp2.add(Y3, t0);
      t0 = Fp2.mul(t5, t4);
      X3 = Fp2.mul(t3, X3);
      X3 = Fp2.sub(X3, t0);
      t0 = Fp2.mul(t3, t1);
      Z3 = Fp2.mul(t5, Z3);
      Z3 = Fp2.add(Z3, t0);
      return new Point(X3, Y3, Z3);
    }
    subtract(other) {
      aprjpoint(other);
      return this.add(other.negate());
    }
    is0() {
      return this.equals(Point.ZERO);
    }
    /**
     * Constant time multiplication.
     * Uses precomputed tables (signed fixed-window wNAF) when available.
     * Uses scalar blinding and avoids endomorphism splitting in the secret-scalar path.
     * @param scalar - by which the point would be multiplied
     * @returns New point
     */
    multiply(scalar) {
      if (!Fn2.isValidNot0(scalar))
        throw new RangeError("invalid scalar: out of range");
      const { p, f } = wnaf.mulSecret(this, scalar, cofactor, normalize);
      return normalize([p, f])[0];
    }
    /**
     * Non-constant-time multiplication. Uses width-4 wNAF with GLV endomorphism splitting
     * when available (two half-width scalars sharing one halved doubling chain).
     * It's faster, but should only be used when you don't care about
     * an exposed secret key e.g. sig verification, which works over *public* keys.
     */
    multiplyUnsafe(scalar) {
      const p = this;
      const sc = scalar;
      if (!Fn2.isValid(sc))
        throw new RangeError("invalid scalar: out of range");
      if (sc === _0n10 || p.is0())
        return Point.ZERO;
      if (sc === _1n9)
        return p;
      if (wnaf.hasWindowSize(this))
        return wnaf.mulUnsafe(p, sc, normalize);
      const points = [];
      const scalars = [];
      pushWnafPair(points, scalars, p, sc);
      return mulAddUnsafe(Point, points, scalars);
    }
    /**
     * Non-constant-time double-scalar multiplication `a⋅this + b⋅other` (Strauss–Shamir).
     * Both walks share one doubling chain via {@link mulAddUnsafe}, and GLV endomorphism
     * (when available) halves the chain again by splitting each scalar into two half-width
     * parts. Used by ECDSA verification and public-key recovery for `R = u1⋅G + u2⋅P`.
     * Only for public scalars.
     */
    mulAddUnsafe(a, other, b) {
      aprjpoint(other);
      const points = [];
      const scalars = [];
      pushWnafPair(points, scalars, this, a);
      pushWnafPair(points, scalars, other, b);
      return mulAddUnsafe(Point, points, scalars);
    }
    /**
     * Converts Projective point to affine (x, y) coordinates.
     * (X, Y, Z) ∋ (x=X/Z, y=Y/Z).
     * @param invertedZ - Z^-1 (inverted zero) - optional, precomputation is useful for invertBatch
     */
    toAffine(invertedZ) {
      const p = this;
      let iz = invertedZ;
      if (iz != null && !Fp2.isValid(iz))
        throw new RangeError('"invertedZ" expected valid field element');
      const { X, Y, Z } = p;
      if (Fp2.eql(Z, Fp2.ONE))
        return { x: X, y: Y };
      const is0 = p.is0();
      if (iz == null)
        iz = is0 ? Fp2.ONE : Fp2.inv(Z);
      const x = Fp2.mul(X, iz);
      const y = Fp2.mul(Y, iz);
      const zz = Fp2.mul(Z, iz);
      if (is0)
        return { x: Fp2.ZERO, y: Fp2.ZERO };
      if (!Fp2.eql(zz, Fp2.ONE))
        throw new Error("invZ was invalid");
      return { x, y };
    }
    /**
     * Checks whether Point is free of torsion elements (is in prime subgroup).
     * Always torsion-free for cofactor=1 curves.
     */
    isTorsionFree() {
      if (cofactor === _1n9)
        return true;
      if (isTorsionFree)
        return isTorsionFree(Point, this);
      return wnaf.mulUnsafe(this, CURVE_ORDER).is0();
    }
    clearCofactor() {
      if (cofactor === _1n9)
        return this;
      if (clearCofactor)
        return clearCofactor(Point, this);
      return this.multiplyUnsafe(cofactor);
    }
    isSmallOrder() {
      if (cofactor === _1n9)
        return this.is0();
      return this.clearCofactor().is0();
    }
    toBytes(isCompressed = true) {
      abool2(isCompressed, "isCompressed");
      this.assertValidity();
      return encodePoint(Point, this, isCompressed);
    }
    toHex(isCompressed = true) {
      return bytesToHex2(this.toBytes(isCompressed));
    }
    toString() {
      return `<Point ${this.is0() ? "ZERO" : this.toHex()}>`;
    }
  }
  const normalize = (points) => normalizeZ(Point, points);
  const wnaf = new ScalarMultiplier(Point, randomBytes5);
  if (wnaf.bits >= 6)
    Point.BASE.precompute(6);
  Object.freeze(Point.prototype);
  Object.freeze(Point);
  return Point;
}
function pprefix(hasEvenY) {
  return Uint8Array.of(hasEvenY ? 2 : 3);
}
function getWLengths(Fp2, Fn2) {
  return {
    secretKey: Fn2.BYTES,
    publicKey: 1 + Fp2.BYTES,
    publicKeyUncompressed: 1 + 2 * Fp2.BYTES,
    publicKeyHasPrefix: true,
    // Raw compact `(r || s)` signature width; DER and recovered signatures use
    // different lengths outside this helper.
    signature: 2 * Fn2.BYTES
  };
}
function ecdh(Point, ecdhOpts = {}) {
  validatePointCons(Point);
  const { Fn: Fn2 } = Point;
  const randomBytes_ = ecdhOpts.randomBytes === void 0 ? randomBytes2 : ecdhOpts.randomBytes;
  const lengths = Object.assign(getWLengths(Point.Fp, Fn2), {
    seed: Math.max(getMinHashLength(Fn2.ORDER), 16)
  });
  function isValidSecretKey(secretKey) {
    try {
      const num = Fn2.fromBytes(secretKey);
      return Fn2.isValidNot0(num);
    } catch (error) {
      return false;
    }
  }
  function isValidPublicKey(publicKey, isCompressed) {
    const { publicKey: comp, publicKeyUncompressed } = lengths;
    try {
      const l = publicKey.length;
      if (isCompressed === true && l !== comp)
        return false;
      if (isCompressed === false && l !== publicKeyUncompressed)
        return false;
      return !Point.fromBytes(publicKey).is0();
    } catch (error) {
      return false;
    }
  }
  function randomSecretKey(seed) {
    seed = seed === void 0 ? randomBytes_(lengths.seed) : seed;
    return mapHashToField(abytes2(seed, lengths.seed, "seed"), Fn2.ORDER);
  }
  function getPublicKey(secretKey, isCompressed = true) {
    return Point.BASE.multiply(Fn2.fromBytes(secretKey)).toBytes(isCompressed);
  }
  function isProbPub(item) {
    const { secretKey, publicKey, publicKeyUncompressed } = lengths;
    const allowedLengths = Fn2._lengths;
    if (!isBytes2(item))
      return void 0;
    const l = abytes2(item, void 0, "key").length;
    const isPub = l === publicKey || l === publicKeyUncompressed;
    const isSec = l === secretKey || !!allowedLengths?.includes(l);
    if (isPub && isSec)
      return void 0;
    return isPub;
  }
  function getSharedSecret(secretKeyA, publicKeyB, isCompressed = true) {
    if (isProbPub(secretKeyA) === true)
      throw new Error("first arg must be private key");
    if (isProbPub(publicKeyB) === false)
      throw new Error("second arg must be public key");
    const s = Fn2.fromBytes(secretKeyA);
    const b = Point.fromBytes(publicKeyB);
    if (b.is0())
      throw new Error("invalid public key: point at infinity");
    return b.multiply(s).toBytes(isCompressed);
  }
  const utils = {
    isValidSecretKey,
    isValidPublicKey,
    randomSecretKey
  };
  const keygen = createKeygen(randomSecretKey, getPublicKey);
  Object.freeze(utils);
  Object.freeze(lengths);
  return Object.freeze({ getPublicKey, getSharedSecret, keygen, Point, utils, lengths });
}
function ecdsa(Point, hash, ecdsaOpts = {}) {
  validatePointCons(Point);
  const hash_ = hash;
  ahash(hash_);
  validateObject(ecdsaOpts, {}, {
    hmac: "function",
    lowS: "boolean",
    randomBytes: "function",
    bits2int: "function",
    bits2int_modN: "function"
  });
  const opts2 = Object.assign({}, ecdsaOpts);
  const randomBytes5 = opts2.randomBytes === void 0 ? randomBytes2 : opts2.randomBytes;
  const hmac2 = opts2.hmac === void 0 ? (key, msg) => hmac(hash_, key, msg) : opts2.hmac;
  const { Fp: Fp2, Fn: Fn2 } = Point;
  const { ORDER: CURVE_ORDER, BITS: fnBits } = Fn2;
  const blindLength = getMinHashLength(CURVE_ORDER);
  const csprng = probeRandomBytes(randomBytes5, blindLength);
  const { keygen, getPublicKey, getSharedSecret, utils, lengths } = ecdh(Point, opts2);
  const defaultSigOpts = {
    prehash: true,
    lowS: typeof opts2.lowS === "boolean" ? opts2.lowS : true,
    format: "compact",
    extraEntropy: false
  };
  const hasLargeRecoveryLifts = CURVE_ORDER * _2n7 + _1n9 < Fp2.ORDER;
  function isBiggerThanHalfOrder(number) {
    const HALF = CURVE_ORDER >> _1n9;
    return number > HALF;
  }
  function validateRS(title, num) {
    if (!Fn2.isValidNot0(num))
      throw new Error(`invalid signature ${title}: out of range 1..Point.Fn.ORDER`);
    return num;
  }
  function assertFieldSignIsSupported() {
    if (!Fp2.isOdd)
      throw new Error("Field doesn't support isOdd");
  }
  function getRecoveryBit(x, y, r) {
    assertFieldSignIsSupported();
    return (x === r ? 0 : 2) | Number(Fp2.isOdd(y));
  }
  function assertRecoverableCurve() {
    if (hasLargeRecoveryLifts)
      throw new Error('"recovered" sig type is not supported for cofactor >2 curves');
  }
  function validateSigLength(bytes, format) {
    validateSigFormat(format);
    const size = lengths.signature;
    const sizer = format === "compact" ? size : format === "recovered" ? size + 1 : void 0;
    return abytes2(bytes, sizer);
  }
  class Signature {
    r;
    s;
    recovery;
    constructor(r, s, recovery) {
      this.r = validateRS("r", r);
      this.s = validateRS("s", s);
      if (recovery != null) {
        assertRecoverableCurve();
        if (![0, 1, 2, 3].includes(recovery))
          throw new Error("invalid recovery id");
        this.recovery = recovery;
      }
      Object.freeze(this);
    }
    static fromBytes(bytes, format = defaultSigOpts.format) {
      validateSigLength(bytes, format);
      let recid;
      if (format === "der") {
        if (bytes.length > 2 * Fn2.BYTES + 16)
          throw new DER.Err("invalid signature: DER signature too long");
        const { r: r2, s: s2 } = DER.toSig(abytes2(bytes), Fn2.BYTES + 1);
        return new Signature(r2, s2);
      }
      if (format === "recovered") {
        recid = bytes[0];
        format = "compact";
        bytes = bytes.subarray(1);
      }
      const L = lengths.signature / 2;
      const r = bytes.subarray(0, L);
      const s = bytes.subarray(L, L * 2);
      return new Signature(Fn2.fromBytes(r), Fn2.fromBytes(s), recid);
    }
    static fromHex(hex3, format) {
      return this.fromBytes(hexToBytes2(hex3), format);
    }
    assertRecovery() {
      const { recovery } = this;
      if (recovery == null)
        throw new Error("invalid recovery id: must be present");
      return recovery;
    }
    addRecoveryBit(recovery) {
      return new Signature(this.r, this.s, recovery);
    }
    // Unlike the top-level helper below, this method expects a digest that has
    // already been hashed to the curve's message representative.
    recoverPublicKey(messageHash) {
      const { r, s } = this;
      const recovery = this.assertRecovery();
      const radj = recovery === 2 || recovery === 3 ? r + CURVE_ORDER : r;
      if (!Fp2.isValid(radj))
        throw new Error("invalid recovery id: sig.r+curve.n != R.x");
      const x = Fp2.toBytes(radj);
      const R = Point.fromBytes(concatBytes3(pprefix((recovery & 1) === 0), x));
      const ir = Fn2.inv(radj);
      const h = bits2int_modN(abytes2(messageHash, void 0, "msgHash"));
      const u1 = Fn2.create(-h * ir);
      const u2 = Fn2.create(s * ir);
      const Q2 = Point.BASE.mulAddUnsafe(u1, R, u2);
      if (Q2.is0())
        throw new Error("invalid recovery: point at infinify");
      Q2.assertValidity();
      return Q2;
    }
    // Signatures should be low-s, to prevent malleability.
    hasHighS() {
      return isBiggerThanHalfOrder(this.s);
    }
    toBytes(format = defaultSigOpts.format) {
      validateSigFormat(format);
      if (format === "der")
        return hexToBytes2(DER.hexFromSig(this));
      const { r, s } = this;
      const rb = Fn2.toBytes(r);
      const sb = Fn2.toBytes(s);
      if (format === "recovered") {
        assertRecoverableCurve();
        return concatBytes3(Uint8Array.of(this.assertRecovery()), rb, sb);
      }
      return concatBytes3(rb, sb);
    }
    toHex(format) {
      return bytesToHex2(this.toBytes(format));
    }
  }
  Object.freeze(Signature.prototype);
  Object.freeze(Signature);
  const bits2int = opts2.bits2int === void 0 ? function bits2int_def(bytes) {
    if (bytes.length > 8192)
      throw new Error("input is too large");
    const num = bytesToNumberBE(bytes);
    const delta = bytes.length * 8 - fnBits;
    return delta > 0 ? num >> BigInt(delta) : num;
  } : opts2.bits2int;
  const bits2int_modN = opts2.bits2int_modN === void 0 ? function bits2int_modN_def(bytes) {
    return Fn2.create(bits2int(bytes));
  } : opts2.bits2int_modN;
  const ORDER_MASK = bitMask(fnBits);
  function int2octets(num) {
    aInRange("num < 2^" + fnBits, num, _0n10, ORDER_MASK);
    return Fn2.toBytes(num);
  }
  function validateMsgAndHash(message, prehash) {
    abytes2(message, void 0, "message");
    return prehash ? abytes2(hash_(message), void 0, "prehashed message") : message;
  }
  function prepSig(message, secretKey, opts3) {
    const { lowS, prehash, extraEntropy } = validateSigOpts(opts3, defaultSigOpts);
    message = validateMsgAndHash(message, prehash);
    const h1int = bits2int_modN(message);
    const d = Fn2.fromBytes(secretKey);
    if (!Fn2.isValidNot0(d))
      throw new Error("invalid private key");
    const seedArgs = [int2octets(d), int2octets(h1int)];
    if (extraEntropy != null && extraEntropy !== false) {
      const e = extraEntropy === true ? randomBytes5(lengths.secretKey) : extraEntropy;
      seedArgs.push(abytes2(e, void 0, "extraEntropy"));
    }
    const seed = concatBytes3(...seedArgs);
    const m = h1int;
    function k2sig(kBytes) {
      const k = bits2int(kBytes);
      if (!Fn2.isValidNot0(k))
        return;
      const q = Point.BASE.multiply(k).toAffine();
      const r = Fn2.create(q.x);
      if (r === _0n10)
        return;
      let s;
      if (csprng !== void 0) {
        const b = bytesToNumberBE(mapHashToField(csprng(blindLength), CURVE_ORDER));
        const ibk = Fn2.inv(Fn2.mul(b, k));
        const bm = Fn2.mul(b, m);
        const bd = Fn2.mul(b, d);
        s = Fn2.create(ibk * Fn2.create(bm + bd * r));
      } else {
        const ik = invertCt(k, CURVE_ORDER);
        s = Fn2.create(ik * Fn2.create(m + r * d));
      }
      if (s === _0n10)
        return;
      let recovery = getRecoveryBit(q.x, q.y, r);
      let normS = s;
      if (lowS && isBiggerThanHalfOrder(s)) {
        normS = Fn2.neg(s);
        recovery ^= 1;
      }
      return new Signature(r, normS, hasLargeRecoveryLifts ? void 0 : recovery);
    }
    return { seed, k2sig };
  }
  function sign2(message, secretKey, opts3 = {}) {
    const { seed, k2sig } = prepSig(message, secretKey, opts3);
    const drbg = createHmacDrbg(hash_.outputLen, Fn2.BYTES, hmac2);
    const sig = drbg(seed, k2sig);
    return sig.toBytes(opts3.format);
  }
  function verify2(signature, message, publicKey, opts3 = {}) {
    const { lowS, prehash, format } = validateSigOpts(opts3, defaultSigOpts);
    publicKey = abytes2(publicKey, void 0, "publicKey");
    message = validateMsgAndHash(message, prehash);
    if (!isBytes2(signature)) {
      const end = signature instanceof Signature ? ", use sig.toBytes()" : "";
      throw new Error("verify expects Uint8Array signature" + end);
    }
    validateSigLength(signature, format);
    try {
      const sig = Signature.fromBytes(signature, format);
      const P3 = Point.fromBytes(publicKey);
      if (P3.is0())
        return false;
      if (lowS && sig.hasHighS())
        return false;
      const { r, s } = sig;
      const h = bits2int_modN(message);
      const is = Fn2.inv(s);
      const u1 = Fn2.create(h * is);
      const u2 = Fn2.create(r * is);
      const R = Point.BASE.mulAddUnsafe(u1, P3, u2);
      if (R.is0())
        return false;
      const q = R.toAffine();
      const v = Fn2.create(q.x);
      if (v !== r)
        return false;
      if (format === "recovered" && sig.recovery !== getRecoveryBit(q.x, q.y, r))
        return false;
      return true;
    } catch (e) {
      return false;
    }
  }
  function recoverPublicKey(signature, message, opts3 = {}) {
    const { prehash } = validateSigOpts(opts3, defaultSigOpts);
    message = validateMsgAndHash(message, prehash);
    return Signature.fromBytes(signature, "recovered").recoverPublicKey(message).toBytes();
  }
  return Object.freeze({
    keygen,
    getPublicKey,
    getSharedSecret,
    utils,
    lengths,
    Point,
    sign: sign2,
    verify: verify2,
    recoverPublicKey,
    Signature,
    hash: hash_
  });
}

// node_modules/@noble/curves/nist.js
var p256_CURVE = /* @__PURE__ */ (() => ({
  p: BigInt("0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
  n: BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
  h: BigInt(1),
  a: BigInt("0xffffffff00000001000000000000000000000000fffffffffffffffffffffffc"),
  b: BigInt("0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
  Gx: BigInt("0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
  Gy: BigInt("0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
}))();
var p384_CURVE = /* @__PURE__ */ (() => ({
  p: BigInt("0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff"),
  n: BigInt("0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"),
  h: BigInt(1),
  a: BigInt("0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc"),
  b: BigInt("0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef"),
  Gx: BigInt("0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7"),
  Gy: BigInt("0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f")
}))();
var p521_CURVE = /* @__PURE__ */ (() => ({
  p: BigInt("0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
  n: BigInt("0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409"),
  h: BigInt(1),
  a: BigInt("0x1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc"),
  b: BigInt("0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00"),
  Gx: BigInt("0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66"),
  Gy: BigInt("0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650")
}))();
var p256_Point = /* @__PURE__ */ weierstrass(p256_CURVE);
var p256 = /* @__PURE__ */ ecdsa(p256_Point, sha256);
var p384_Point = /* @__PURE__ */ weierstrass(p384_CURVE);
var p384 = /* @__PURE__ */ ecdsa(p384_Point, sha384);
var p521_Point = /* @__PURE__ */ weierstrass(p521_CURVE);
var p521 = /* @__PURE__ */ ecdsa(p521_Point, sha512);

// src/ikev1/auth.ts
var AuthMethodV1 = {
  PSK: 1,
  RSA_SIG: 3,
  ECDSA_256: 9,
  ECDSA_384: 10,
  ECDSA_521: 11,
  XAUTH_INIT_PSK: 65001,
  XAUTH_INIT_RSA: 65005
};
var CURVES2 = {
  9: { curve: p256, crv: "P-256", size: 32 },
  10: { curve: p384, crv: "P-384", size: 48 },
  11: { curve: p521, crv: "P-521", size: 66 }
};
function curveMethod(key) {
  const c = key.asymmetricKeyDetails?.namedCurve;
  if (c === "prime256v1" || c === "P-256") return 9;
  if (c === "secp384r1" || c === "P-384") return 10;
  if (c === "secp521r1" || c === "P-521") return 11;
  return void 0;
}
function authMethodFor(auth, xauth) {
  if (auth.kind === "psk") return xauth ? AuthMethodV1.XAUTH_INIT_PSK : AuthMethodV1.PSK;
  if (auth.kind === "eap")
    throw new VpnError(
      "ERR_CONFIG",
      "IKEv1 has no EAP: use a pre-shared key (with XAUTH) or a certificate"
    );
  const kt = auth.key.asymmetricKeyType;
  if (kt === "rsa") return xauth ? AuthMethodV1.XAUTH_INIT_RSA : AuthMethodV1.RSA_SIG;
  if (kt === "ec") {
    const m = curveMethod(auth.key);
    if (m === void 0)
      throw new VpnError("ERR_CONFIG", "IKEv1 ECDSA needs a P-256, P-384 or P-521 key (RFC 4754)");
    if (xauth)
      throw new VpnError(
        "ERR_CONFIG",
        "IKEv1 XAUTH is defined for pre-shared keys and RSA certificates only"
      );
    return m;
  }
  throw new VpnError(
    "ERR_CONFIG",
    `IKEv1 cannot authenticate with a ${String(kt)} key (RSA or ECDSA needed)`
  );
}
function baseMethod(method) {
  if (method === AuthMethodV1.XAUTH_INIT_PSK) return AuthMethodV1.PSK;
  if (method === AuthMethodV1.XAUTH_INIT_RSA) return AuthMethodV1.RSA_SIG;
  return method;
}
function b64u(s) {
  if (s === void 0) throw new VpnError("ERR_CERT", "EC key without its coordinates");
  return new Uint8Array(Buffer.from(s, "base64url"));
}
function leftPad2(b, n) {
  if (b.length >= n) return b;
  const out = new Uint8Array(n);
  out.set(b, n - b.length);
  return out;
}
function signV1(key, method, hash) {
  const m = baseMethod(method);
  if (m === AuthMethodV1.RSA_SIG) {
    return new Uint8Array(privateEncrypt({ key, padding: constants3.RSA_PKCS1_PADDING }, hash));
  }
  if (!CURVES2[m])
    throw new VpnError("ERR_CONFIG", `authentication method ${method} is not a signature method`);
  const own = key.asymmetricKeyType === "ec" ? curveMethod(key) : void 0;
  if (own === void 0)
    throw new VpnError("ERR_CONFIG", "IKEv1 ECDSA needs a P-256, P-384 or P-521 key");
  const c = CURVES2[own];
  const jwk = key.export({ format: "jwk" });
  const d = leftPad2(b64u(jwk.d), c.size);
  return c.curve.sign(hash, d, { prehash: false, format: "compact", lowS: false });
}
function verifyV1(key, method, hash, sig) {
  try {
    const m = baseMethod(method);
    if (m === AuthMethodV1.RSA_SIG) {
      if (key.asymmetricKeyType !== "rsa")
        return {
          ok: false,
          reason: `RSA signature, but the certificate has a ${String(key.asymmetricKeyType)} key`
        };
      const out = publicDecrypt({ key, padding: constants3.RSA_PKCS1_PADDING }, sig);
      return equalBytes(new Uint8Array(out), hash) ? { ok: true } : { ok: false, reason: "RSA signature does not verify" };
    }
    if (!CURVES2[m])
      return { ok: false, reason: `authentication method ${method} is not a signature method` };
    const own = key.asymmetricKeyType === "ec" ? curveMethod(key) : void 0;
    if (own === void 0)
      return {
        ok: false,
        reason: `ECDSA signature, but the certificate has a ${String(key.asymmetricKeyType)} key`
      };
    const c = CURVES2[own];
    if (sig.length !== 2 * c.size)
      return {
        ok: false,
        reason: `ECDSA signature of ${sig.length} bytes, expected ${2 * c.size}`
      };
    const jwk = key.export({ format: "jwk" });
    const pub = new Uint8Array(1 + 2 * c.size);
    pub[0] = 4;
    pub.set(leftPad2(b64u(jwk.x), c.size), 1);
    pub.set(leftPad2(b64u(jwk.y), c.size), 1 + c.size);
    return c.curve.verify(sig, hash, pub, { prehash: false, format: "compact", lowS: false }) ? { ok: true } : { ok: false, reason: `ECDSA ${c.crv} signature does not verify` };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

// src/ikev1/constants.ts
var ISAKMP_VERSION = 16;
var V1Exchange = {
  BASE: 1,
  MAIN_MODE: 2,
  // Identity Protection
  AUTH_ONLY: 3,
  AGGRESSIVE: 4,
  INFORMATIONAL: 5,
  TRANSACTION: 6,
  QUICK_MODE: 32,
  NEW_GROUP: 33
};
var V1Flag = { ENCRYPTION: 1, COMMIT: 2, AUTH_ONLY: 4 };
var V1Payload = {
  NONE: 0,
  SA: 1,
  PROPOSAL: 2,
  TRANSFORM: 3,
  KE: 4,
  ID: 5,
  CERT: 6,
  CERTREQ: 7,
  HASH: 8,
  SIG: 9,
  NONCE: 10,
  NOTIFY: 11,
  DELETE: 12,
  VENDOR_ID: 13,
  ATTRIBUTE: 14,
  // draft-dukes-ike-mode-cfg-02 §3.2
  NAT_D: 20,
  // RFC 3947 §3.2
  NAT_OA: 21,
  // RFC 3947 §5.2
  NAT_D_DRAFT: 130,
  // draft-ietf-ipsec-nat-t-ike-02/03
  NAT_OA_DRAFT: 131,
  FRAGMENT: 132
  // Cisco/strongSwan IKEv1 fragmentation (opaque to us)
};
var V1IdType = {
  IPV4_ADDR: 1,
  FQDN: 2,
  USER_FQDN: 3,
  IPV4_ADDR_SUBNET: 4,
  IPV6_ADDR: 5,
  IPV6_ADDR_SUBNET: 6,
  IPV4_ADDR_RANGE: 7,
  IPV6_ADDR_RANGE: 8,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11
};
var V1CertEncoding = { X509_SIG: 4 };
var V1Notify = {
  INVALID_PAYLOAD_TYPE: 1,
  DOI_NOT_SUPPORTED: 2,
  SITUATION_NOT_SUPPORTED: 3,
  INVALID_COOKIE: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_MINOR_VERSION: 6,
  INVALID_EXCHANGE_TYPE: 7,
  INVALID_FLAGS: 8,
  INVALID_MESSAGE_ID: 9,
  INVALID_PROTOCOL_ID: 10,
  INVALID_SPI: 11,
  INVALID_TRANSFORM_ID: 12,
  ATTRIBUTES_NOT_SUPPORTED: 13,
  NO_PROPOSAL_CHOSEN: 14,
  BAD_PROPOSAL_SYNTAX: 15,
  PAYLOAD_MALFORMED: 16,
  INVALID_KEY_INFORMATION: 17,
  INVALID_ID_INFORMATION: 18,
  INVALID_CERT_ENCODING: 19,
  INVALID_CERTIFICATE: 20,
  CERT_TYPE_UNSUPPORTED: 21,
  INVALID_CERT_AUTHORITY: 22,
  INVALID_HASH_INFORMATION: 23,
  AUTHENTICATION_FAILED: 24,
  INVALID_SIGNATURE: 25,
  ADDRESS_NOTIFICATION: 26,
  NOTIFY_SA_LIFETIME: 27,
  CERTIFICATE_UNAVAILABLE: 28,
  UNSUPPORTED_EXCHANGE_TYPE: 29,
  UNEQUAL_PAYLOAD_LENGTHS: 30,
  CONNECTED: 16384,
  RESPONDER_LIFETIME: 24576,
  // RFC 2407 §4.6.3.1
  REPLAY_STATUS: 24577,
  INITIAL_CONTACT: 24578,
  // RFC 2407 §4.6.3.3
  DPD_R_U_THERE: 36136,
  // RFC 3706 §5
  DPD_R_U_THERE_ACK: 36137
};
var V1Protocol = { ISAKMP: 1, AH: 2, ESP: 3 };
var IPSEC_DOI = 1;
var VendorId = {
  /** MD5("RFC 3947") */
  NATT_RFC: "4a131c81070358455c5728f20e95452f",
  /** MD5("draft-ietf-ipsec-nat-t-ike-02\n") */
  NATT_DRAFT_02N: "90cb80913ebb696e086381b5ec427b1f",
  /** MD5("draft-ietf-ipsec-nat-t-ike-03") */
  NATT_DRAFT_03: "7d9419a65310ca6f2c179d9215529d56",
  /** RFC 3706 §4: DPD vendor ID, version 1.0 */
  DPD: "afcad71368a1f1c96b8696fc77570100",
  /** draft-beaulieu-ike-xauth-02 (MD5 of "draft-ietf-ipsra-isakmp-xauth-06.txt", as every implementation sends) */
  XAUTH: "09002689dfd6b712",
  /** Cisco Unity 1.0 */
  UNITY: "12f5f28c457168a9702d9fe274cc0100"
};
function v1Name(table, value) {
  for (const [k, v] of Object.entries(table)) if (v === value) return k;
  return String(value);
}

// src/ikev1/codec/payloads.ts
var V1_GENERIC_HEADER_LENGTH = 4;
var V1_MAX_PAYLOADS = 64;
var V1_MAX_DELETE_SPIS = 64;
function decodeV1Body(type, r) {
  switch (type) {
    case V1Payload.SA:
    case V1Payload.KE:
    case V1Payload.HASH:
    case V1Payload.SIG:
    case V1Payload.NONCE:
    case V1Payload.VENDOR_ID:
    case V1Payload.ATTRIBUTE:
    case V1Payload.NAT_D:
    case V1Payload.NAT_D_DRAFT:
      return { kind: "data", type, data: r.copy(r.remaining, "payload body") };
    case V1Payload.ID: {
      const idType = r.u8("ID payload");
      const protocol = r.u8("ID payload");
      const port = r.u16("ID payload");
      return { kind: "id", type, idType, protocol, port, data: r.copy(r.remaining, "ID data") };
    }
    case V1Payload.CERT:
    case V1Payload.CERTREQ: {
      const encoding = r.u8("certificate payload");
      return { kind: "cert", type, encoding, data: r.copy(r.remaining, "certificate data") };
    }
    case V1Payload.NOTIFY: {
      const doi = r.u32("notification payload");
      const protocol = r.u8("notification payload");
      const spiSize = r.u8("notification payload");
      const notifyType = r.u16("notification payload");
      const spi = r.copy(spiSize, "notification SPI");
      return {
        kind: "notify",
        type,
        doi,
        protocol,
        spi,
        notifyType,
        data: r.copy(r.remaining, "notification data")
      };
    }
    case V1Payload.DELETE: {
      const doi = r.u32("delete payload");
      const protocol = r.u8("delete payload");
      const spiSize = r.u8("delete payload");
      const count = r.u16("delete payload");
      if (count > V1_MAX_DELETE_SPIS)
        r.fail("delete payload", `${count} SPIs, at most ${V1_MAX_DELETE_SPIS}`);
      if (spiSize * count !== r.remaining)
        r.fail("delete payload", `${count} SPIs of ${spiSize} bytes in ${r.remaining} bytes`);
      const spis = [];
      for (let i = 0; i < count; i++) spis.push(r.copy(spiSize, "delete SPI"));
      return { kind: "delete", type, doi, protocol, spiSize, spis };
    }
    case V1Payload.NAT_OA:
    case V1Payload.NAT_OA_DRAFT: {
      const idType = r.u8("NAT-OA payload");
      r.skip(3, "NAT-OA payload");
      const address = r.copy(r.remaining, "NAT-OA address");
      if (address.length !== 4 && address.length !== 16)
        r.fail("NAT-OA payload", `address of ${address.length} bytes`);
      return { kind: "natoa", type, idType, address };
    }
    default:
      return { kind: "unknown", type, body: r.copy(r.remaining, "payload body") };
  }
}
function encodeV1Body(p) {
  const w = new Writer(64);
  switch (p.kind) {
    case "data":
      w.bytes(p.data);
      break;
    case "id":
      w.u8(p.idType).u8(p.protocol).u16(p.port).bytes(p.data);
      break;
    case "cert":
      w.u8(p.encoding).bytes(p.data);
      break;
    case "notify":
      w.u32(p.doi).u8(p.protocol).u8(p.spi.length).u16(p.notifyType).bytes(p.spi).bytes(p.data);
      break;
    case "delete":
      w.u32(p.doi).u8(p.protocol).u8(p.spiSize).u16(p.spis.length);
      for (const s of p.spis) {
        if (s.length !== p.spiSize)
          throw new RangeError(`delete SPI of ${s.length} bytes, spiSize ${p.spiSize}`);
        w.bytes(s);
      }
      break;
    case "natoa":
      w.u8(p.idType).zeros(3).bytes(p.address);
      break;
    case "unknown":
      w.bytes(p.body);
      break;
  }
  return w.finish();
}
function decodeV1Chain(first, bytes, baseOffset = 0) {
  const r = new Reader(bytes, 0, bytes.length, baseOffset);
  const payloads = [];
  const spans = [];
  let type = first;
  while (type !== V1Payload.NONE) {
    if (payloads.length >= V1_MAX_PAYLOADS)
      r.fail("payload chain", `more than ${V1_MAX_PAYLOADS} payloads`);
    const start = r.pos;
    const next = r.u8("payload header");
    r.u8("payload header");
    const len = r.u16("payload header");
    if (len < V1_GENERIC_HEADER_LENGTH)
      throw new ParseError("payload header", r.base + start, `length ${len} < 4`);
    const body = r.sub(len - V1_GENERIC_HEADER_LENGTH, `payload ${type} body`);
    const p = decodeV1Body(type, body);
    body.expectEnd(`payload ${type}`);
    payloads.push(p);
    spans.push([start, r.pos]);
    type = next;
  }
  return { payloads, spans, end: r.pos };
}
function encodeV1Chain(payloads) {
  const w = new Writer(256);
  payloads.forEach((p, i) => {
    const body = encodeV1Body(p);
    const next = payloads[i + 1]?.type ?? V1Payload.NONE;
    w.u8(next).u8(0).u16(V1_GENERIC_HEADER_LENGTH + body.length).bytes(body);
  });
  return { first: payloads[0]?.type ?? V1Payload.NONE, bytes: w.finish() };
}
function findData(payloads, type) {
  for (const p of payloads) if (p.kind === "data" && p.type === type) return p.data;
  return void 0;
}
function allData(payloads, type) {
  const out = [];
  for (const p of payloads) if (p.kind === "data" && p.type === type) out.push(p.data);
  return out;
}

// src/ikev1/codec/message.ts
var V1_HEADER_LENGTH = 28;
function decodeV1Header(bytes) {
  if (bytes.length > MAX_IKE_MESSAGE_BYTES)
    throw new ParseError(
      "ISAKMP message",
      0,
      `${bytes.length} bytes, at most ${MAX_IKE_MESSAGE_BYTES}`
    );
  const r = new Reader(bytes);
  const cookieI = r.copy(8, "ISAKMP header");
  const cookieR = r.copy(8, "ISAKMP header");
  const nextPayload = r.u8("ISAKMP header");
  const version = r.u8("ISAKMP header");
  const exchangeType = r.u8("ISAKMP header");
  const flags = r.u8("ISAKMP header");
  const messageId = r.u32("ISAKMP header");
  const length = r.u32("ISAKMP header");
  if (version >> 4 !== 1)
    throw new ParseError("ISAKMP header", 17, `major version ${version >> 4}, expected 1`);
  if (length < V1_HEADER_LENGTH)
    throw new ParseError("ISAKMP header", 24, `length ${length} < ${V1_HEADER_LENGTH}`);
  if (length > bytes.length)
    throw new ParseError("ISAKMP header", 24, `length ${length} > datagram ${bytes.length}`);
  if (length < bytes.length)
    throw new ParseError("ISAKMP message", length, `${bytes.length - length} trailing bytes`);
  return { cookieI, cookieR, nextPayload, version, exchangeType, flags, messageId, length };
}
function encodeV1Header(h, bodyLength) {
  if (h.cookieI.length !== 8 || h.cookieR.length !== 8)
    throw new RangeError("ISAKMP cookies must be 8 bytes");
  return new Writer(V1_HEADER_LENGTH).bytes(h.cookieI).bytes(h.cookieR).u8(h.nextPayload).u8(h.version).u8(h.exchangeType).u8(h.flags).u32(h.messageId >>> 0).u32(V1_HEADER_LENGTH + bodyLength).finish();
}
function decodeV1Message(bytes) {
  const header = decodeV1Header(bytes);
  const body = bytes.subarray(V1_HEADER_LENGTH, header.length);
  if (header.flags & V1Flag.ENCRYPTION) return { header, body };
  const chain = decodeV1Chain(header.nextPayload, body, V1_HEADER_LENGTH);
  if (chain.end !== body.length)
    throw new ParseError(
      "ISAKMP message",
      V1_HEADER_LENGTH + chain.end,
      "bytes after the last payload"
    );
  return { header, body, chain };
}
function encodeV1Message(h, first, body) {
  const head = encodeV1Header({ ...h, nextPayload: first, version: ISAKMP_VERSION }, body.length);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

// src/ikev1/codec/crypt.ts
import { createCipheriv as createCipheriv3, createDecipheriv as createDecipheriv4, createHash as createHash5 } from "node:crypto";
var V1Encr = { DES_CBC: 1, TDES_CBC: 5, AES_CBC: 7 };
var V1Hash = { MD5: 1, SHA1: 2, SHA2_256: 4, SHA2_384: 5, SHA2_512: 6 };
var HASH_NAMES = {
  [V1Hash.SHA1]: { node: "sha1", len: 20 },
  [V1Hash.SHA2_256]: { node: "sha256", len: 32 },
  [V1Hash.SHA2_384]: { node: "sha384", len: 48 },
  [V1Hash.SHA2_512]: { node: "sha512", len: 64 }
};
function v1HashSpec(hash) {
  const s = HASH_NAMES[hash];
  if (!s) throw new CryptoError(`IKEv1 hash algorithm ${hash} is not supported`);
  return s;
}
function v1Hash(hash, data) {
  return new Uint8Array(createHash5(v1HashSpec(hash).node).update(data).digest());
}
var V1_MAX_PADDING = 255;
var V1Cipher = class {
  blockSize;
  alg;
  key;
  constructor(encr, key) {
    if (encr === V1Encr.AES_CBC) {
      if (key.length !== 16 && key.length !== 24 && key.length !== 32)
        throw new CryptoError(`AES-CBC key of ${key.length} bytes`);
      this.alg = `aes-${key.length * 8}-cbc`;
      this.blockSize = 16;
    } else if (encr === V1Encr.TDES_CBC) {
      if (key.length !== 24) throw new CryptoError(`3DES-CBC key of ${key.length} bytes`);
      this.alg = "des-ede3-cbc";
      this.blockSize = 8;
    } else {
      throw new CryptoError(`IKEv1 encryption algorithm ${encr} is not supported`);
    }
    this.key = key.slice();
  }
  /** Key length in bytes for an Encryption Algorithm and Key Length attribute (bits). */
  static keyLength(encr, keyBits) {
    if (encr === V1Encr.AES_CBC) return (keyBits ?? 128) / 8;
    if (encr === V1Encr.TDES_CBC) return 24;
    throw new CryptoError(`IKEv1 encryption algorithm ${encr} is not supported`);
  }
  /**
   * Pads the chain with zeros to a multiple of the block size (always at least one byte, as
   * strongSwan does) and encrypts it. Returns the ciphertext; its last block is the next IV.
   */
  encrypt(iv, chain) {
    if (iv.length !== this.blockSize) throw new RangeError(`IV of ${iv.length} bytes`);
    const pad = this.blockSize - chain.length % this.blockSize;
    const plain = new Uint8Array(chain.length + pad);
    plain.set(chain);
    const c = createCipheriv3(this.alg, this.key, iv).setAutoPadding(false);
    return new Uint8Array(Buffer.concat([c.update(plain), c.final()]));
  }
  /** Decrypts; the ciphertext must be a non-empty multiple of the block size. */
  decrypt(iv, ciphertext, offset = 28) {
    if (ciphertext.length === 0 || ciphertext.length % this.blockSize !== 0)
      throw new ParseError(
        "encrypted ISAKMP message",
        offset,
        `${ciphertext.length} bytes is not a multiple of the ${this.blockSize}-byte block`
      );
    const d = createDecipheriv4(this.alg, this.key, iv).setAutoPadding(false);
    return new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
  }
  wipe() {
    this.key.fill(0);
  }
};
function lastBlock(ciphertext, blockSize) {
  return ciphertext.slice(ciphertext.length - blockSize);
}
function phase1Iv(hash, gxi, gxr, blockSize) {
  return v1Hash(hash, concatBytes(gxi, gxr)).slice(0, blockSize);
}
function phase2Iv(hash, phase1LastBlock, mid, blockSize) {
  return v1Hash(hash, concatBytes(phase1LastBlock, u32be(mid >>> 0))).slice(0, blockSize);
}
function openV1Body(cipher, iv, first, ciphertext) {
  const plain = cipher.decrypt(iv, ciphertext);
  const chain = decodeV1Chain(first, plain, 28);
  const pad = plain.length - chain.end;
  if (pad > V1_MAX_PADDING)
    throw new ParseError("encrypted ISAKMP message", 28 + chain.end, `${pad} bytes of padding`);
  return { plain, chain };
}

// src/ikev1/keymat.ts
import { createHmac as createHmac4 } from "node:crypto";
function v1Prf(hash, key, ...data) {
  const h = createHmac4(v1HashSpec(hash).node, key);
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
}
function encryptionKey(hash, skeyidE, keyLength) {
  if (skeyidE.length >= keyLength) return skeyidE.slice(0, keyLength);
  const parts = [];
  let total = 0;
  let prev = Uint8Array.of(0);
  while (total < keyLength) {
    prev = v1Prf(hash, skeyidE, prev);
    parts.push(prev);
    total += prev.length;
  }
  return concatBytes(...parts).slice(0, keyLength);
}
function derivePhase1Keys(i) {
  const nonces = concatBytes(i.ni, i.nr);
  const skeyid = i.auth.kind === "psk" ? v1Prf(i.hash, i.auth.psk, nonces) : v1Prf(i.hash, nonces, i.gxy);
  const skeyidD = v1Prf(i.hash, skeyid, i.gxy, i.cookieI, i.cookieR, Uint8Array.of(0));
  const skeyidA = v1Prf(i.hash, skeyid, skeyidD, i.gxy, i.cookieI, i.cookieR, Uint8Array.of(1));
  const skeyidE = v1Prf(i.hash, skeyid, skeyidA, i.gxy, i.cookieI, i.cookieR, Uint8Array.of(2));
  const ka = encryptionKey(i.hash, skeyidE, V1Cipher.keyLength(i.encr, i.keyBits));
  return { skeyid, skeyidD, skeyidA, skeyidE, ka };
}
function authHashFor(hash, authMethod) {
  switch (authMethod) {
    case 9:
      return 4;
    // ECDSA with SHA-256 on P-256
    case 10:
      return 5;
    // SHA-384, P-384
    case 11:
      return 6;
    // SHA-512, P-521
    default:
      return hash;
  }
}
function phase1Hash(hash, skeyid, side, gxi, gxr, cookieI, cookieR, saiB, idB) {
  return side === "I" ? v1Prf(hash, skeyid, gxi, gxr, cookieI, cookieR, saiB, idB) : v1Prf(hash, skeyid, gxr, gxi, cookieR, cookieI, saiB, idB);
}
function hashMid(hash, skeyidA, mid, rest) {
  return v1Prf(hash, skeyidA, u32be(mid >>> 0), rest);
}
function qmHash2(hash, skeyidA, mid, niB, rest) {
  return v1Prf(hash, skeyidA, u32be(mid >>> 0), niB, rest);
}
function qmHash3(hash, skeyidA, mid, niB, nrB) {
  return v1Prf(hash, skeyidA, Uint8Array.of(0), u32be(mid >>> 0), niB, nrB);
}
function quickModeKeymat(hash, skeyidD, protocol, spi, niB, nrB, length, gqm) {
  if (length > 255 * 64) throw new CryptoError(`KEYMAT of ${length} bytes`);
  const seed = concatBytes(
    gqm ?? new Uint8Array(0),
    Uint8Array.of(protocol),
    u32be(spi >>> 0),
    niB,
    nrB
  );
  const parts = [];
  let total = 0;
  let prev = new Uint8Array(0);
  while (total < length) {
    prev = v1Prf(hash, skeyidD, prev, seed);
    parts.push(prev);
    total += prev.length;
  }
  const out = concatBytes(...parts).slice(0, length);
  wipe(seed, ...parts);
  return out;
}
var MAX_IVS = 16;
var V1Keymat = class {
  hash;
  authHash;
  skeyid;
  skeyidD;
  skeyidA;
  cipher;
  /** Phase 1 IV chain: the current IV of the phase 1 exchange, then its last CBC block. */
  p1;
  ivs = /* @__PURE__ */ new Map();
  constructor(keys, hash, authHash, encr, gxi, gxr) {
    this.hash = hash;
    this.authHash = authHash;
    this.skeyid = keys.skeyid;
    this.skeyidD = keys.skeyidD;
    this.skeyidA = keys.skeyidA;
    this.cipher = new V1Cipher(encr, keys.ka);
    wipe(keys.skeyidE, keys.ka);
    this.p1 = phase1Iv(hash, gxi, gxr, this.cipher.blockSize);
  }
  /** The IV for the next message of message ID `mid` (0: phase 1). */
  ivFor(mid) {
    if (mid === 0) return this.p1;
    let iv = this.ivs.get(mid);
    if (!iv) {
      iv = phase2Iv(this.hash, this.p1, mid, this.cipher.blockSize);
      if (this.ivs.size >= MAX_IVS) {
        const oldest = this.ivs.keys().next().value;
        if (oldest !== void 0) this.ivs.delete(oldest);
      }
      this.ivs.set(mid, iv);
    }
    return iv;
  }
  /** After a message of `mid` was sent or accepted: its last ciphertext block is the next IV. */
  advance(mid, ciphertext) {
    const b = lastBlock(ciphertext, this.cipher.blockSize);
    if (mid === 0) this.p1 = b;
    else this.ivs.set(mid, b);
  }
  /** The exchange of `mid` is over. */
  forget(mid) {
    this.ivs.delete(mid);
  }
  wipe() {
    wipe(this.skeyid, this.skeyidD, this.skeyidA);
    this.cipher.wipe();
  }
};

// src/ikev1/context.ts
var NONCE_LENGTH = 32;
var DPD_WHAT2 = "dead peer detection (R-U-THERE)";
var RETIRE_DELAY_MS = 2e3;
function newSa(cookieI) {
  return {
    cookieI,
    cookieR: new Uint8Array(8),
    saBody: new Uint8Array(0),
    authMethod: 0,
    ni: new Uint8Array(0),
    nr: new Uint8Array(0),
    gxr: new Uint8Array(0),
    ready: false,
    peer: { nattRfc: false, nattDraft: false, dpd: false, xauth: false, unity: false },
    natdType: V1Payload.NAT_D
  };
}
function u323(v) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}
function readU32(b) {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
}
var V1Context = class {
  /** Wired by Ikev1Session right after construction. */
  tasks;
  cfg;
  random;
  log;
  counters = emptyIkeCounters();
  st = "created";
  out = [];
  now = 0;
  local = { address: "0.0.0.0", port: 0 };
  remote = { address: "0.0.0.0", port: 500 };
  natT = false;
  natHere = false;
  natThere = false;
  /** The ISAKMP SA in use, and one being built by a phase 1 rekey. */
  sa;
  nextSa;
  /** The ISAKMP SA a phase 1 rekey replaced, until its DELETE goes out. */
  retiring;
  outstanding;
  children = [];
  config = { dns4: [], dns6: [], domains: [], subnets: [], unknown: [] };
  vip;
  /** Where the connection stands while connecting: what runs after phase 1. */
  step = "phase1";
  lastAlive = 0;
  constructor(cfg, random, log) {
    this.cfg = cfg;
    this.random = random;
    this.log = log;
    this.sa = newSa(this.randomNonZero(8));
  }
  dropTotal = 0;
  timeoutFor(tries) {
    const r = this.cfg.retransmit;
    return Math.min(r.maxTimeoutMs, r.timeoutMs * Math.pow(r.base, tries));
  }
  totalTimeoutMs() {
    let t = 0;
    for (let i = 0; i <= this.cfg.retransmit.tries; i++) t += this.timeoutFor(i);
    return t;
  }
  // -------------------------------------------------------------------------------------------
  // Shared steps
  push(o) {
    this.out.push(o);
  }
  emit(event) {
    this.out.push({ kind: "event", event });
  }
  setState(state, detail) {
    if (this.st === state) return;
    this.st = state;
    this.emit(detail === void 0 ? { type: "state", state } : { type: "state", state, detail });
  }
  drop(reason, detail) {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    this.dropTotal++;
    const o = this.outstanding;
    if (o) o.bad = { count: (o.bad?.count ?? 0) + 1, last: detail ?? reason };
    this.log.debug(
      "ike",
      `dropped IKEv1 datagram: ${reason}`,
      detail === void 0 ? void 0 : { detail }
    );
  }
  transmit(data) {
    this.counters.sent++;
    this.out.push({ kind: "send", data, to: this.remote, nonEspMarker: this.natT });
  }
  randomNonZero(n) {
    for (; ; ) {
      const b = this.random.bytes(n);
      if (b.some((x) => x !== 0)) return b;
    }
  }
  /** A fresh message ID for a new exchange (RFC 2408 §3.1: random, non-zero). */
  newMid() {
    for (; ; ) {
      const v = readU32(this.random.bytes(4));
      if (v !== 0) return v;
    }
  }
  newSpi() {
    for (; ; ) {
      const v = readU32(this.random.bytes(4));
      if (v > 255 && !this.children.some((c) => c.inboundSpi === v)) return v;
    }
  }
  /** Sends a request and arms the retransmit timer (one request of ours in flight at a time). */
  request(o) {
    this.outstanding = { ...o, tries: 0 };
    this.transmit(o.data);
    this.push({ kind: "setTimer", timer: "retransmit", at: this.now + this.timeoutFor(0) });
  }
  settle() {
    this.outstanding = void 0;
    this.push({ kind: "clearTimer", timer: "retransmit" });
  }
  /** Encrypts a payload chain for message ID `mid` of `sa` and advances that ID's IV. */
  seal(sa, exchange, mid, payloads) {
    const km = sa.keymat;
    const { first, bytes } = encodeV1Chain(payloads);
    const ct = km.cipher.encrypt(km.ivFor(mid), bytes);
    km.advance(mid, ct);
    return encodeV1Message(
      {
        cookieI: sa.cookieI,
        cookieR: sa.cookieR,
        exchangeType: exchange,
        flags: V1Flag.ENCRYPTION,
        messageId: mid
      },
      first,
      ct
    );
  }
  /**
   * A protected message of a phase 2 exchange (RFC 2409 §5.5, §5.7): HASH(1) = prf(SKEYID_a,
   * M-ID | payloads), or with `hash` the caller's (HASH(2)/(3) forms).
   */
  sealHashed(sa, exchange, mid, rest, hash) {
    const km = sa.keymat;
    const restBytes = encodeV1Chain(rest).bytes;
    const h = hash ? hash(restBytes) : hashMid(km.hash, km.skeyidA, mid, restBytes);
    return this.seal(sa, exchange, mid, [{ kind: "data", type: V1Payload.HASH, data: h }, ...rest]);
  }
  /** Sends a one-message Informational exchange (RFC 2409 §5.7), protected by `sa`. */
  sendInformational(sa, payloads) {
    const mid = this.newMid();
    this.transmit(this.sealHashed(sa, V1Exchange.INFORMATIONAL, mid, payloads));
    sa.keymat.forget(mid);
  }
  notify(type, protocol, spi, data = new Uint8Array(0)) {
    return {
      kind: "notify",
      type: V1Payload.NOTIFY,
      doi: IPSEC_DOI,
      protocol,
      spi,
      notifyType: type,
      data
    };
  }
  cookies(sa) {
    return concatBytes(sa.cookieI, sa.cookieR);
  }
  /** Ends the session with an error, telling the gateway (DELETE) when it has our SA. */
  fail(error) {
    if (this.st === "closed") return;
    this.log.warn("ike", error.message);
    if (this.sa.ready) {
      try {
        this.sendDeletes();
      } catch {
      }
    }
    this.finishClose(error, false);
  }
  finishClose(error, byPeer) {
    if (this.st === "closed") return;
    this.outstanding = void 0;
    for (const t of ["retransmit", "dpd", "rekey-child", "rekey-ike"])
      this.push({ kind: "clearTimer", timer: t });
    for (const c of this.children.splice(0))
      this.push({ kind: "removeChild", inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi });
    this.sa.keymat?.wipe();
    this.nextSa?.keymat?.wipe();
    this.retiring?.keymat?.wipe();
    this.setState("closed", error?.message);
    this.emit(error === void 0 ? { type: "closed", byPeer } : { type: "closed", error, byPeer });
  }
  /** RFC 2408 §3.15 / RFC 2409 §5.7: DELETE our IPsec SAs (our inbound SPIs), then the ISAKMP SA. */
  sendDeletes() {
    const spis = this.children.map((c) => u323(c.inboundSpi));
    if (spis.length > 0) {
      const d2 = {
        kind: "delete",
        type: V1Payload.DELETE,
        doi: IPSEC_DOI,
        protocol: V1Protocol.ESP,
        spiSize: 4,
        spis
      };
      this.sendInformational(this.sa, [d2]);
    }
    const d = {
      kind: "delete",
      type: V1Payload.DELETE,
      doi: IPSEC_DOI,
      protocol: V1Protocol.ISAKMP,
      spiSize: 16,
      spis: [this.cookies(this.sa)]
    };
    this.sendInformational(this.sa, [d]);
  }
  removeChild(c) {
    const i = this.children.indexOf(c);
    if (i >= 0) this.children.splice(i, 1);
    this.push({ kind: "removeChild", inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi });
  }
  /** A rekey time minus up to 10 % random jitter, so both ends rarely rekey at once. */
  jitter(ms) {
    return ms - readU32(this.random.bytes(4)) / 4294967296 * 0.1 * ms;
  }
  // -------------------------------------------------------------------------------------------
  // Received datagrams: the IV of an encrypted one moves only once it was accepted (RFC 2409
  // Appendix B); a forged or garbled message must not advance the chain.
  /** The datagram being handled (for the caches of retransmitted requests). */
  lastDatagram;
  /** The encrypted datagram being handled: its SA, message ID and ciphertext (for acceptIv). */
  pendingIv;
  knownMid(mid) {
    return this.outstanding?.mid === mid || this.tasks.quick.peerQm?.mid === mid || this.tasks.tx.knows(mid);
  }
  /** The received encrypted message was accepted: its last block is the next IV of its ID. */
  acceptIv() {
    const p = this.pendingIv;
    if (!p) return;
    p.sa.keymat?.advance(p.mid, p.ct);
    this.pendingIv = void 0;
  }
  rejectIv() {
    const p = this.pendingIv;
    if (p && !p.known) p.sa.keymat?.forget(p.mid);
    this.pendingIv = void 0;
  }
  /** Checks a phase 2 message's HASH(1) = prf(SKEYID_a, M-ID | payloads after HASH). */
  checkHash(sa, h, c, plain) {
    const km = sa.keymat;
    const first = c.payloads[0];
    if (!first || first.kind !== "data" || first.type !== V1Payload.HASH) return false;
    const rest = plain.subarray(c.spans[0][1], c.end);
    return equalBytes(first.data, hashMid(km.hash, km.skeyidA, h.messageId, rest));
  }
  finishCloseWith(error) {
    this.log.warn("ike", error.message);
    this.finishClose(error, false);
  }
  errorFromNotify(type, during) {
    const name = v1Name(V1Notify, type);
    const map = {
      [V1Notify.NO_PROPOSAL_CHOSEN]: [
        "ERR_IKE_NO_PROPOSAL",
        `the gateway accepted none of our proposals in ${during} (NO_PROPOSAL_CHOSEN)`
      ],
      [V1Notify.AUTHENTICATION_FAILED]: [
        "ERR_IKE_AUTH_FAILED",
        "the gateway rejected our credentials (AUTHENTICATION_FAILED): check the pre-shared key and --id"
      ],
      [V1Notify.INVALID_HASH_INFORMATION]: [
        "ERR_IKE_AUTH_FAILED",
        "the gateway could not verify our hash (INVALID_HASH_INFORMATION): check the pre-shared key"
      ],
      [V1Notify.INVALID_ID_INFORMATION]: [
        "ERR_IKE_AUTH_FAILED",
        `the gateway refused our identity in ${during} (INVALID_ID_INFORMATION)`
      ],
      [V1Notify.INVALID_SIGNATURE]: [
        "ERR_IKE_AUTH_FAILED",
        "the gateway could not verify our signature (INVALID_SIGNATURE)"
      ],
      [V1Notify.INVALID_CERTIFICATE]: [
        "ERR_IKE_AUTH_FAILED",
        "the gateway refused our certificate (INVALID_CERTIFICATE)"
      ],
      [V1Notify.PAYLOAD_MALFORMED]: [
        "ERR_IKE_AUTH_FAILED",
        `the gateway could not read our ${during} (PAYLOAD_MALFORMED): the pre-shared key is probably wrong`
      ],
      [V1Notify.INVALID_PAYLOAD_TYPE]: [
        "ERR_IKE_AUTH_FAILED",
        `the gateway could not read our ${during} (INVALID_PAYLOAD_TYPE): the pre-shared key is probably wrong`
      ]
    };
    const m = map[type];
    if (m && (type === V1Notify.PAYLOAD_MALFORMED || type === V1Notify.INVALID_PAYLOAD_TYPE) && !during.includes("message 5") && !during.includes("Aggressive"))
      return new VpnError(
        "ERR_IKE_PEER_ERROR",
        `the gateway answered ${during} with error ${name}`
      );
    if (m) return new VpnError(m[0], m[1]);
    return new VpnError("ERR_IKE_PEER_ERROR", `the gateway answered ${during} with error ${name}`);
  }
};

// src/ikev1/tasks/phase1.ts
var Phase1 = class {
  c;
  constructor(c) {
    this.c = c;
  }
  // -------------------------------------------------------------------------------------------
  // Phase 1: Main Mode and Aggressive Mode (RFC 2409 §5)
  start(local, remote) {
    if (this.c.st !== "created") return;
    this.c.local = local;
    this.c.remote = remote;
    this.c.lastAlive = this.c.now;
    this.c.setState("connecting");
    this.startPhase1(this.c.sa);
  }
  vendorIds() {
    const hex3 = [
      VendorId.NATT_RFC,
      VendorId.NATT_DRAFT_03,
      VendorId.NATT_DRAFT_02N,
      VendorId.DPD
    ];
    if (this.c.cfg.xauth) hex3.push(VendorId.XAUTH);
    if (this.c.cfg.modeConfig) hex3.push(VendorId.UNITY);
    return hex3.map((h) => ({
      kind: "data",
      type: V1Payload.VENDOR_ID,
      data: new Uint8Array(Buffer.from(h, "hex"))
    }));
  }
  readVendorIds(sa, payloads) {
    for (const v of allData(payloads, V1Payload.VENDOR_ID)) {
      const h = toHex(v);
      if (h === VendorId.NATT_RFC) sa.peer.nattRfc = true;
      else if (h === VendorId.NATT_DRAFT_02N || h === VendorId.NATT_DRAFT_03)
        sa.peer.nattDraft = true;
      else if (h === VendorId.DPD) sa.peer.dpd = true;
      else if (h === VendorId.XAUTH) sa.peer.xauth = true;
      else if (h.startsWith(VendorId.UNITY.slice(0, 28))) sa.peer.unity = true;
    }
    sa.natdType = sa.peer.nattRfc || !sa.peer.nattDraft ? V1Payload.NAT_D : V1Payload.NAT_D_DRAFT;
  }
  idPayload() {
    const id = this.c.cfg.localId;
    return { kind: "id", type: V1Payload.ID, idType: id.type, protocol: 0, port: 0, data: id.data };
  }
  idBody(p) {
    return concatBytes(Uint8Array.of(p.idType, p.protocol, p.port >> 8, p.port & 255), p.data);
  }
  startPhase1(sa) {
    const cfg = this.c.cfg;
    sa.authMethod = authMethodFor(cfg.auth, cfg.xauth !== void 0);
    if (cfg.aggressive) {
      const group = cfg.phase1[0].group;
      const specs = cfg.phase1.filter((s) => s.group === group);
      sa.saBody = encodePhase1Sa(specs, sa.authMethod);
      sa.ke = createKeyExchange(group, this.c.random);
      sa.ni = this.c.random.bytes(NONCE_LENGTH);
      this.c.log.warn(
        "ike",
        "IKEv1 Aggressive Mode sends a hash of the pre-shared key that an eavesdropper can attack offline"
      );
      this.c.emit({ type: "stage", stage: "ike-sa-init" });
      const msg2 = this.plain(sa, V1Exchange.AGGRESSIVE, [
        { kind: "data", type: V1Payload.SA, data: sa.saBody },
        { kind: "data", type: V1Payload.KE, data: sa.ke.publicValue },
        { kind: "data", type: V1Payload.NONCE, data: sa.ni },
        this.idPayload(),
        ...this.vendorIds()
      ]);
      this.c.request({
        exchange: V1Exchange.AGGRESSIVE,
        mid: 0,
        data: msg2,
        what: "Aggressive Mode message 1",
        sa,
        onReply: (h, c) => this.onAm2(sa, h, c, specs)
      });
      return;
    }
    sa.saBody = encodePhase1Sa(cfg.phase1, sa.authMethod);
    this.c.emit({ type: "stage", stage: "ike-sa-init" });
    const msg = this.plain(sa, V1Exchange.MAIN_MODE, [
      { kind: "data", type: V1Payload.SA, data: sa.saBody },
      ...this.vendorIds()
    ]);
    this.c.request({
      exchange: V1Exchange.MAIN_MODE,
      mid: 0,
      data: msg,
      what: "Main Mode message 1",
      sa,
      onReply: (h, c) => this.onMm2(sa, h, c)
    });
  }
  plain(sa, exchange, payloads) {
    const { first, bytes } = encodeV1Chain(payloads);
    return encodeV1Message(
      { cookieI: sa.cookieI, cookieR: sa.cookieR, exchangeType: exchange, flags: 0, messageId: 0 },
      first,
      bytes
    );
  }
  /** RFC 3947 §3.2: NAT-D = HASH(CKY-I | CKY-R | IP | Port), with the phase 1 hash. */
  natd(sa, ep) {
    const port = Uint8Array.of(ep.port >> 8, ep.port & 255);
    return v1Hash(
      sa.spec.hash,
      concatBytes(sa.cookieI, sa.cookieR, parseIpAddress(ep.address), port)
    );
  }
  /** Our NAT-D payloads: the gateway's address first, then ours (faked with forceEncap). */
  natdPayloads(sa) {
    const mine = this.c.cfg.forceEncap ? this.c.random.bytes(v1Hash(sa.spec.hash, new Uint8Array(0)).length) : this.natd(sa, this.c.local);
    return [
      { kind: "data", type: sa.natdType, data: this.natd(sa, this.c.remote) },
      { kind: "data", type: sa.natdType, data: mine }
    ];
  }
  /** RFC 3947 §3.2: is there a NAT before us or before the gateway? Then float to 4500 (§4). */
  detectNat(sa, payloads) {
    if (!sa.peer.nattRfc && !sa.peer.nattDraft) return;
    const list2 = payloads.filter((p) => p.kind === "data" && (p.type === V1Payload.NAT_D || p.type === V1Payload.NAT_D_DRAFT)).map((p) => p.data);
    if (list2.length < 2) return;
    const [dst, ...srcs] = list2;
    this.c.natHere = !equalBytes(dst, this.natd(sa, this.c.local));
    const them = this.natd(sa, this.c.remote);
    this.c.natThere = !srcs.some((s) => equalBytes(s, them));
    this.c.emit({ type: "nat", natHere: this.c.natHere, natThere: this.c.natThere });
    if ((this.c.natHere || this.c.natThere) && !this.c.natT) {
      this.c.natT = true;
      this.c.remote = { address: this.c.remote.address, port: 4500 };
      this.c.log.info(
        "ike",
        `NAT detected (${this.c.natHere ? "here" : "at the gateway"}): moving to UDP port 4500 (RFC 3947 §4)`
      );
    }
  }
  onMm2(sa, h, c) {
    const sab = findData(c.payloads, V1Payload.SA);
    if (!sab) return this.dropPhase1(c, "Main Mode message 2 without an SA payload");
    if (h.cookieR.every((b) => b === 0)) return this.c.drop("zero responder cookie");
    const spec2 = decodePhase1Choice(sab, this.c.cfg.phase1, sa.authMethod);
    this.c.settle();
    sa.cookieR = h.cookieR.slice();
    sa.spec = spec2;
    this.readVendorIds(sa, c.payloads);
    sa.ke = createKeyExchange(spec2.group, this.c.random);
    sa.ni = this.c.random.bytes(NONCE_LENGTH);
    const payloads = [
      { kind: "data", type: V1Payload.KE, data: sa.ke.publicValue },
      { kind: "data", type: V1Payload.NONCE, data: sa.ni }
    ];
    if (baseMethod(sa.authMethod) !== AuthMethodV1.PSK && this.c.cfg.gatewayAuth.certs) {
      const cr = {
        kind: "cert",
        type: V1Payload.CERTREQ,
        encoding: V1CertEncoding.X509_SIG,
        data: new Uint8Array(0)
      };
      payloads.push(cr);
    }
    if (sa.peer.nattRfc || sa.peer.nattDraft) payloads.push(...this.natdPayloads(sa));
    const msg = this.plain(sa, V1Exchange.MAIN_MODE, payloads);
    this.c.request({
      exchange: V1Exchange.MAIN_MODE,
      mid: 0,
      data: msg,
      what: "Main Mode message 3",
      sa,
      onReply: (h2, c2) => this.onMm4(sa, h2, c2)
    });
  }
  deriveKeys(sa, gxr) {
    const spec2 = sa.spec;
    let gxy;
    try {
      gxy = sa.ke.computeSharedSecret(gxr);
    } catch (e) {
      throw new VpnError(
        "ERR_IKE_PROTOCOL",
        `the gateway's key exchange value is invalid: ${e.message}`
      );
    }
    sa.gxr = gxr.slice();
    const psk = this.c.cfg.auth.kind === "psk" ? this.c.cfg.auth.psk : void 0;
    const keys = derivePhase1Keys({
      hash: spec2.hash,
      auth: psk ? { kind: "psk", psk } : { kind: "sig" },
      ni: sa.ni,
      nr: sa.nr,
      gxy,
      cookieI: sa.cookieI,
      cookieR: sa.cookieR,
      encr: spec2.encr,
      ...spec2.keyBits === void 0 ? {} : { keyBits: spec2.keyBits }
    });
    gxy.fill(0);
    sa.keymat = new V1Keymat(
      keys,
      spec2.hash,
      authHashFor(spec2.hash, baseMethod(sa.authMethod)),
      spec2.encr,
      sa.ke.publicValue,
      gxr
    );
  }
  onMm4(sa, _h, c) {
    const ke = findData(c.payloads, V1Payload.KE);
    const nr = findData(c.payloads, V1Payload.NONCE);
    if (!ke || !nr) return this.dropPhase1(c, "Main Mode message 4 without KE and nonce");
    if (nr.length < 8 || nr.length > 256)
      return this.c.drop("bad nonce", `nonce of ${nr.length} bytes`);
    this.c.settle();
    sa.nr = nr.slice();
    this.deriveKeys(sa, ke);
    if (sa === this.c.sa) this.detectNat(sa, c.payloads);
    const id = this.idPayload();
    const payloads = [id, ...this.authPayloads(sa, this.idBody(id))];
    const msg = this.c.seal(sa, V1Exchange.MAIN_MODE, 0, payloads);
    this.c.request({
      exchange: V1Exchange.MAIN_MODE,
      mid: 0,
      data: msg,
      what: "Main Mode message 5",
      sa,
      onReply: (h2, c2) => this.onMm6(sa, h2, c2),
      onTimeout: (o) => this.authTimeout(o.what)
    });
  }
  /** HASH_I, or our certificates and SIG_I (RFC 2409 §5). */
  authPayloads(sa, idiiB) {
    const km = sa.keymat;
    const hashI = phase1Hash(
      km.authHash,
      km.skeyid,
      "I",
      sa.ke.publicValue,
      sa.gxr,
      sa.cookieI,
      sa.cookieR,
      sa.saBody,
      idiiB
    );
    const auth = this.c.cfg.auth;
    if (auth.kind !== "pubkey") return [{ kind: "data", type: V1Payload.HASH, data: hashI }];
    const certs = auth.certs.map((d) => ({
      kind: "cert",
      type: V1Payload.CERT,
      encoding: V1CertEncoding.X509_SIG,
      data: d
    }));
    return [...certs, { kind: "data", type: V1Payload.SIG, data: signV1(auth.key, sa.authMethod, hashI) }];
  }
  /** No answer to our authentication: with a PSK, the gateway could not decrypt it (wrong key). */
  authTimeout(what, why = `no valid answer to ${what}`) {
    if (this.c.cfg.auth.kind === "psk")
      return new VpnError(
        "ERR_IKE_AUTH_FAILED",
        `the gateway did not accept our authentication (${why}): the pre-shared key (or our identity) is probably wrong`
      );
    return new VpnError(
      "ERR_IKE_AUTH_FAILED",
      `the gateway did not accept our authentication (${why})`
    );
  }
  /**
   * While our authentication (MM5 / AM3) is outstanding, an encrypted Informational from the
   * gateway that our keys cannot open or verify means the keys differ: strongSwan answers an MM5
   * it cannot decrypt with N(PAYLOAD_MALFORMED) under its own keys. With a PSK that is a wrong
   * key; fail now rather than after the whole retransmission schedule.
   */
  keysDiffer(sa, h) {
    const o = this.c.outstanding;
    if (!o || o.sa !== sa || !o.onTimeout || sa.ready || h.exchangeType !== V1Exchange.INFORMATIONAL)
      return false;
    if (sa === this.c.nextSa) {
      this.c.nextSa = void 0;
      this.c.outstanding = void 0;
      this.c.log.warn("ike", "phase 1 rekey: the gateway could not read our authentication");
      return true;
    }
    this.c.finishCloseWith(
      this.authTimeout(
        o.what,
        `it answered ${o.what} with a message our keys cannot open or verify`
      )
    );
    return true;
  }
  /** HASH_R or the gateway's certificate and SIG_R, and its identity (RFC 2409 §5). */
  verifyGateway(sa, payloads, idr) {
    const km = sa.keymat;
    const gwId = { type: idr.idType, data: idr.data };
    sa.gwId = gwId;
    if (this.c.cfg.remoteId && !sameIdentity(gwId, this.c.cfg.remoteId)) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          `gateway identified as "${formatIdentity(gwId)}", expected "${formatIdentity(this.c.cfg.remoteId)}"`
        )
      );
      return false;
    }
    const hashR = phase1Hash(
      km.authHash,
      km.skeyid,
      "R",
      sa.ke.publicValue,
      sa.gxr,
      sa.cookieI,
      sa.cookieR,
      sa.saBody,
      this.idBody(idr)
    );
    if (baseMethod(sa.authMethod) === AuthMethodV1.PSK) {
      const got = findData(payloads, V1Payload.HASH);
      if (!got || !equalBytes(got, hashR)) {
        this.c.fail(
          new VpnError(
            "ERR_IKE_AUTH_FAILED",
            "the gateway's HASH_R does not match our pre-shared key: the PSKs differ (or someone is in the middle)"
          )
        );
        return false;
      }
      return true;
    }
    const policy = this.c.cfg.gatewayAuth;
    if (!policy.certs) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          "the gateway authenticated with a certificate; this connection has no trust anchors for it"
        )
      );
      return false;
    }
    const certs = payloads.filter(
      (p) => p.kind === "cert" && p.type === V1Payload.CERT && p.encoding === V1CertEncoding.X509_SIG
    ).slice(0, 8).map((p) => p.data);
    const sig = findData(payloads, V1Payload.SIG);
    if (certs.length === 0 || !sig) {
      this.c.fail(
        new VpnError(
          "ERR_CERT",
          "the gateway sent no X.509 certificate and signature; we cannot check its identity"
        )
      );
      return false;
    }
    const checked = policy.certs.validate(certs, gwId, this.c.now);
    if (!checked.ok) {
      this.c.fail(checked.error);
      return false;
    }
    const v = verifyV1(checked.publicKey, sa.authMethod, hashR, sig);
    if (!v.ok) {
      this.c.fail(
        new VpnError(
          "ERR_IKE_AUTH_FAILED",
          `the gateway's signature does not verify with the key of "${checked.subject}": ${v.reason}`
        )
      );
      return false;
    }
    this.c.log.info("ike", `gateway authenticated by certificate "${checked.subject}"`);
    return true;
  }
  onMm6(sa, _h, c) {
    const idr = c.payloads.find((p) => p.kind === "id");
    if (!idr) return this.dropPhase1(c, "Main Mode message 6 without IDir");
    this.c.settle();
    if (!this.verifyGateway(sa, c.payloads, idr)) return;
    this.c.acceptIv();
    this.phase1Done(sa);
  }
  onAm2(sa, h, c, specs) {
    const sab = findData(c.payloads, V1Payload.SA);
    const ke = findData(c.payloads, V1Payload.KE);
    const nr = findData(c.payloads, V1Payload.NONCE);
    const idr = c.payloads.find((p) => p.kind === "id");
    if (!sab || !ke || !nr || !idr)
      return this.dropPhase1(c, "Aggressive Mode message 2 lacks SA, KE, nonce or ID");
    if (nr.length < 8 || nr.length > 256)
      return this.c.drop("bad nonce", `nonce of ${nr.length} bytes`);
    const spec2 = decodePhase1Choice(sab, specs, sa.authMethod);
    this.c.settle();
    sa.cookieR = h.cookieR.slice();
    sa.spec = spec2;
    sa.nr = nr.slice();
    this.readVendorIds(sa, c.payloads);
    this.deriveKeys(sa, ke);
    if (!this.verifyGateway(sa, c.payloads, idr)) return;
    this.detectNat(sa, c.payloads);
    const id = this.idPayload();
    const payloads = [...this.authPayloads(sa, this.idBody(id))];
    if (sa.peer.nattRfc || sa.peer.nattDraft) payloads.push(...this.natdPayloads(sa));
    const am3 = this.c.seal(sa, V1Exchange.AGGRESSIVE, 0, payloads);
    this.c.transmit(am3);
    sa.lastOut = am3;
    this.phase1Done(sa);
  }
  /** Phase 1 refusals arrive as unprotected Informationals; anything else unexpected is dropped. */
  dropPhase1(_c, why) {
    this.c.drop("malformed phase 1 message", why);
  }
  phase1Done(sa) {
    sa.ready = true;
    this.c.lastAlive = this.c.now;
    this.c.log.info(
      "ike",
      `ISAKMP SA established with ${formatIdentity(sa.gwId)} (${formatPhase1Spec(sa.spec)})`
    );
    if (sa !== this.c.sa) {
      this.finishIkeRekey(sa);
      return;
    }
    if (this.c.cfg.initialContact !== false) {
      this.c.sendInformational(sa, [
        this.c.notify(V1Notify.INITIAL_CONTACT, V1Protocol.ISAKMP, this.c.cookies(sa))
      ]);
    }
    this.afterPhase1();
  }
  afterPhase1() {
    if (this.c.cfg.xauth) {
      this.c.step = "xauth";
      this.c.emit({ type: "stage", stage: "ike-auth" });
      this.c.push({
        kind: "setTimer",
        timer: "retransmit",
        at: this.c.now + this.c.totalTimeoutMs()
      });
      return;
    }
    this.afterXauth();
  }
  /** XAUTH succeeded (or was not configured): Mode Config, then Quick Mode. */
  afterXauth() {
    if (this.c.cfg.modeConfig) {
      this.c.step = "modecfg";
      this.c.tasks.tx.startModeConfig(this.c.sa);
      return;
    }
    this.c.tasks.quick.startQuickMode();
  }
  /** Mode Config answered: keep the virtual IP and DNS, then Quick Mode. */
  modeConfigDone(config, ip4) {
    this.c.config = config;
    if (ip4) this.c.vip = parseIpAddress(ip4);
    this.c.tasks.quick.startQuickMode();
  }
  /**
   * Our phase 1 rekey: after cfg.ikeRekeyMs, or at 90 % of the lifetime the gateway chose in its
   * SA (RFC 2409 Appendix A Life Duration) when that is shorter; minus up to 10 % jitter.
   */
  armIkeRekey() {
    const chosen = this.c.sa.spec?.lifeSeconds;
    const life = chosen !== void 0 && chosen > 0 ? chosen * 1e3 * 0.9 : 0;
    const cfg = this.c.cfg.ikeRekeyMs;
    const after = cfg > 0 && life > 0 ? Math.min(cfg, life) : cfg > 0 ? cfg : life;
    if (after > 0)
      this.c.push({
        kind: "setTimer",
        timer: "rekey-ike",
        at: this.c.now + this.c.jitter(after)
      });
  }
  /** Phase 1 rekey: a new Main Mode with fresh cookies beside the current ISAKMP SA. */
  startIkeRekey() {
    if (this.c.st !== "established" || this.c.nextSa) return;
    if (this.c.outstanding) {
      this.c.push({ kind: "setTimer", timer: "rekey-ike", at: this.c.now + 1e3 });
      return;
    }
    const next = newSa(this.c.randomNonZero(8));
    this.c.nextSa = next;
    this.startPhase1(next);
  }
  /**
   * The new ISAKMP SA is up; our IPsec SAs keep running. The old ISAKMP SA is deleted a little
   * later (RETIRE_DELAY_MS), and with XAUTH only after XAUTH succeeded on the new one: strongSwan
   * moves the IPsec SAs to the new ISAKMP SA only once it is fully established ("adopting
   * children"), and deleting the old one before that deletes the IPsec SAs with it.
   */
  finishIkeRekey(next) {
    this.c.retiring = this.c.sa;
    this.c.sa = next;
    this.c.nextSa = void 0;
    this.c.counters.ikeRekeys++;
    this.c.emit({ type: "rekeyed", what: "ike", by: "us", proposal: formatPhase1Spec(next.spec) });
    if (!this.c.cfg.xauth) this.scheduleRetire();
  }
  /** XAUTH succeeded on `sa`: continue connecting, or retire the SA a phase 1 rekey replaced. */
  xauthSucceeded(sa) {
    if (this.c.step === "xauth" && sa === this.c.sa) {
      this.c.push({ kind: "clearTimer", timer: "retransmit" });
      this.afterXauth();
      return;
    }
    if (this.c.retiring && sa === this.c.sa) this.scheduleRetire();
  }
  scheduleRetire() {
    this.c.push({ kind: "setTimer", timer: "rekey-ike", at: this.c.now + RETIRE_DELAY_MS });
  }
  /** DELETE of the replaced ISAKMP SA, protected by itself (RFC 2408 §3.15), then the next rekey. */
  retireOld() {
    const old = this.c.retiring;
    if (!old) return;
    this.c.retiring = void 0;
    const d = {
      kind: "delete",
      type: V1Payload.DELETE,
      doi: IPSEC_DOI,
      protocol: V1Protocol.ISAKMP,
      spiSize: 16,
      spis: [this.c.cookies(old)]
    };
    this.c.sendInformational(old, [d]);
    old.keymat?.wipe();
    this.armIkeRekey();
  }
};

// src/ikev1/ts-id.ts
function prefixOf(start, end) {
  let p = 0;
  for (let i = 0; i < start.length; i++) {
    const x = start[i] ^ end[i];
    for (let b = 7; b >= 0; b--) {
      const bit = 1 << b;
      if (x & bit) {
        if (start[i] & bit || !(end[i] & bit)) return void 0;
      } else if (p === i * 8 + (7 - b)) {
        p++;
      } else {
        return void 0;
      }
    }
  }
  return p;
}
function mask(len, prefix) {
  const m = new Uint8Array(len);
  for (let i = 0; i < prefix; i++) m[i >> 3] |= 128 >> (i & 7);
  return m;
}
function idFromTs(ts) {
  const v6 = ts.startAddr.length === 16;
  const port = ts.startPort === ts.endPort ? ts.startPort : 0;
  const base = { kind: "id", type: V1Payload.ID, protocol: ts.ipProtocol, port };
  const same = ts.startAddr.every((b, i) => b === ts.endAddr[i]);
  if (same)
    return {
      ...base,
      idType: v6 ? V1IdType.IPV6_ADDR : V1IdType.IPV4_ADDR,
      data: ts.startAddr.slice()
    };
  const p = prefixOf(ts.startAddr, ts.endAddr);
  if (p !== void 0) {
    const data2 = new Uint8Array(ts.startAddr.length * 2);
    data2.set(ts.startAddr);
    data2.set(mask(ts.startAddr.length, p), ts.startAddr.length);
    return { ...base, idType: v6 ? V1IdType.IPV6_ADDR_SUBNET : V1IdType.IPV4_ADDR_SUBNET, data: data2 };
  }
  const data = new Uint8Array(ts.startAddr.length * 2);
  data.set(ts.startAddr);
  data.set(ts.endAddr, ts.startAddr.length);
  return { ...base, idType: v6 ? V1IdType.IPV6_ADDR_RANGE : V1IdType.IPV4_ADDR_RANGE, data };
}
function tsFromId(id) {
  const ports = id.port === 0 ? { startPort: 0, endPort: 65535 } : { startPort: id.port, endPort: id.port };
  const sel = (start, end) => ({
    tsType: start.length === 4 ? TsType.TS_IPV4_ADDR_RANGE : TsType.TS_IPV6_ADDR_RANGE,
    ipProtocol: id.protocol,
    ...ports,
    startAddr: start,
    endAddr: end
  });
  const n = id.idType === V1IdType.IPV4_ADDR || id.idType === V1IdType.IPV4_ADDR_SUBNET || id.idType === V1IdType.IPV4_ADDR_RANGE ? 4 : 16;
  switch (id.idType) {
    case V1IdType.IPV4_ADDR:
    case V1IdType.IPV6_ADDR:
      if (id.data.length !== n) break;
      return sel(id.data.slice(), id.data.slice());
    case V1IdType.IPV4_ADDR_SUBNET:
    case V1IdType.IPV6_ADDR_SUBNET: {
      if (id.data.length !== 2 * n) break;
      const a = id.data.subarray(0, n);
      const m = id.data.subarray(n);
      const start = a.map((b, i) => b & m[i]);
      const end = a.map((b, i) => b & m[i] | ~m[i] & 255);
      return sel(start, end);
    }
    case V1IdType.IPV4_ADDR_RANGE:
    case V1IdType.IPV6_ADDR_RANGE:
      if (id.data.length !== 2 * n) break;
      return sel(id.data.slice(0, n), id.data.slice(n));
  }
  throw new ParseError(
    "Quick Mode ID payload",
    0,
    `ID type ${id.idType} with ${id.data.length} bytes`
  );
}

// src/ikev1/tasks/quick-mode.ts
var QuickMode = class {
  c;
  constructor(c) {
    this.c = c;
  }
  /** Quick Mode in flight (ours): its nonce, key exchange and SPI. */
  qm;
  /** The lifetime of our newest IPsec SA as the gateway accepted it (0: unknown). */
  childLifeMs = 0;
  /** The gateway's Quick Mode we answered, waiting for its HASH(3). */
  peerQm;
  /** Our last QM3 and the QM2 it answered (a retransmitted QM2 gets it again). */
  lastQm;
  // -------------------------------------------------------------------------------------------
  // Quick Mode (RFC 2409 §5.5)
  encapsulation() {
    if (!this.c.natT) return V1EncapMode.TUNNEL;
    return this.c.sa.peer.nattRfc ? V1EncapMode.UDP_TUNNEL : V1EncapMode.UDP_TUNNEL_DRAFT;
  }
  selectors() {
    const remote = this.c.cfg.tsRemote[0];
    let local = this.c.cfg.tsLocal[0];
    if (!remote || !local)
      throw new VpnError(
        "ERR_CONFIG",
        "IKEv1 Quick Mode needs a local and a remote traffic selector"
      );
    if (this.c.vip && this.c.vip.length === local.startAddr.length) {
      local = { ...local, startAddr: this.c.vip, endAddr: this.c.vip };
    }
    return { local, remote };
  }
  startQuickMode(rekeyOf) {
    this.c.step = rekeyOf ? this.c.step : "quick";
    if (!rekeyOf && !this.c.cfg.xauth) this.c.emit({ type: "stage", stage: "ike-auth" });
    if (!this.c.natT && !this.c.cfg.forceEncap)
      this.c.log.warn(
        "ike",
        "no NAT between us and the gateway, and UDP encapsulation not forced: ESP needs it"
      );
    const sa = this.c.sa;
    const mid = this.c.newMid();
    const spi = this.c.newSpi();
    const ni = this.c.random.bytes(NONCE_LENGTH);
    const pfs = this.c.cfg.phase2[0].pfsGroup;
    const ke = pfs === void 0 ? void 0 : createKeyExchange(pfs, this.c.random);
    const { local, remote } = rekeyOf ? { local: rekeyOf.tsLocal, remote: rekeyOf.tsRemote } : this.selectors();
    const rest = [
      {
        kind: "data",
        type: V1Payload.SA,
        data: encodePhase2Sa(this.c.cfg.phase2, spi, this.encapsulation())
      },
      { kind: "data", type: V1Payload.NONCE, data: ni }
    ];
    if (ke) rest.push({ kind: "data", type: V1Payload.KE, data: ke.publicValue });
    rest.push(idFromTs(local), idFromTs(remote));
    this.qm = { mid, ni, spi, ...ke ? { ke } : {}, ...rekeyOf ? { rekeyOf } : {} };
    const msg = this.c.sealHashed(sa, V1Exchange.QUICK_MODE, mid, rest);
    this.c.request({
      exchange: V1Exchange.QUICK_MODE,
      mid,
      data: msg,
      what: rekeyOf ? "Quick Mode rekey" : "Quick Mode message 1",
      sa,
      onReply: (h, c, plain) => this.onQm2(h, c, plain, local, remote)
    });
  }
  onQm2(h, c, plain, localTs, remoteTs) {
    let local = localTs;
    let remote = remoteTs;
    const qm = this.qm;
    const sa = this.c.sa;
    const km = sa.keymat;
    const first = c.payloads[0];
    const rest = plain.subarray(c.spans[0]?.[1] ?? 0, c.end);
    if (!first || first.kind !== "data" || first.type !== V1Payload.HASH || !equalBytes(first.data, qmHash2(km.hash, km.skeyidA, h.messageId, qm.ni, rest))) {
      return this.c.drop("bad Quick Mode HASH(2)");
    }
    const sab = findData(c.payloads, V1Payload.SA);
    const nr = findData(c.payloads, V1Payload.NONCE);
    if (!sab || !nr) return this.c.drop("Quick Mode message 2 lacks SA or nonce");
    if (nr.length < 8 || nr.length > 256)
      return this.c.drop("bad nonce", `nonce of ${nr.length} bytes`);
    this.c.settle();
    this.c.acceptIv();
    const { spec: spec2, spi: peerSpi } = decodePhase2Choice(sab, this.c.cfg.phase2, this.encapsulation());
    let gqm;
    if (qm.ke) {
      const ke = findData(c.payloads, V1Payload.KE);
      if (!ke)
        throw new VpnError(
          "ERR_IKE_NO_PROPOSAL",
          "the gateway answered our PFS Quick Mode without a KE payload"
        );
      try {
        gqm = qm.ke.computeSharedSecret(ke);
      } catch (e) {
        throw new VpnError(
          "ERR_IKE_PROTOCOL",
          `the gateway's Quick Mode key exchange value is invalid: ${e.message}`
        );
      }
    }
    const ids = c.payloads.filter((p) => p.kind === "id");
    if (ids.length === 2) {
      const [ci, cr] = ids.map((i) => tsFromId(i));
      const problem = checkNarrowed([local], [ci], "local") ?? checkNarrowed([remote], [cr], "remote");
      if (problem)
        throw new VpnError(
          "ERR_IKE_TS_UNACCEPTABLE",
          `Quick Mode: the gateway ${problem.replace("responder ", "")} (${formatTs(ci)} === ${formatTs(cr)})`
        );
      local = ci;
      remote = cr;
    }
    const qm3 = this.c.seal(sa, V1Exchange.QUICK_MODE, h.messageId, [
      { kind: "data", type: V1Payload.HASH, data: qmHash3(km.hash, km.skeyidA, h.messageId, qm.ni, nr) }
    ]);
    this.c.transmit(qm3);
    this.lastQm = { qm2: this.c.lastDatagram, qm3 };
    km.forget(h.messageId);
    const len = spec2.keyBits / 8 + 4;
    const inKey = quickModeKeymat(km.hash, km.skeyidD, V1Protocol.ESP, qm.spi, qm.ni, nr, len, gqm);
    const outKey = quickModeKeymat(
      km.hash,
      km.skeyidD,
      V1Protocol.ESP,
      peerSpi,
      qm.ni,
      nr,
      len,
      gqm
    );
    gqm?.fill(0);
    let lifeS = spec2.lifeSeconds;
    for (const n of c.payloads) {
      if (n.kind !== "notify" || n.notifyType !== V1Notify.RESPONDER_LIFETIME) continue;
      try {
        lifeS = decodeResponderLifetime(n.data, 2, lifeS).lifeSeconds;
      } catch (e) {
        this.c.log.warn("ike", `ignored a malformed RESPONDER-LIFETIME: ${e.message}`);
      }
    }
    this.childLifeMs = lifeS * 1e3;
    const child = {
      inboundSpi: qm.spi,
      outboundSpi: peerSpi,
      spec: spec2,
      tsLocal: local,
      tsRemote: remote,
      replaced: false
    };
    const info = {
      inbound: {
        spi: qm.spi,
        encrId: spec2.encrId,
        keymat: inKey,
        replayWindow: this.c.cfg.replayWindow
      },
      outbound: { spi: peerSpi, encrId: spec2.encrId, keymat: outKey },
      tsLocal: [local],
      tsRemote: [remote],
      proposal: formatPhase2Spec(spec2)
    };
    this.c.push({ kind: "installChild", child: info });
    this.c.children.push(child);
    const old = qm.rekeyOf;
    this.qm = void 0;
    if (old) {
      old.replaced = true;
      this.deleteChild(old);
      this.c.counters.childRekeys++;
      this.c.emit({ type: "rekeyed", what: "child", by: "us", proposal: info.proposal });
      this.armChildRekey();
      return;
    }
    this.onEstablished(child);
  }
  /**
   * The gateway's Quick Mode (it rekeys the IPsec SA, RFC 2409 §5.5), as responder:
   *   <-- HASH(1), SA, Ni, [KE], [IDci, IDcr]    HASH(2), SA, Nr, [KE], [IDci, IDcr] -->
   *   <-- HASH(3)   then the new SA is installed; the gateway deletes the old one.
   */
  onPeerQuickMode(sa, h, c, plain) {
    const km = sa.keymat;
    const mid = h.messageId;
    const first = c.payloads[0];
    const rest = plain.subarray(c.spans[0]?.[1] ?? 0, c.end);
    const pend = this.peerQm;
    if (pend && pend.mid === mid) {
      if (!first || first.kind !== "data" || first.type !== V1Payload.HASH || !equalBytes(first.data, qmHash3(km.hash, km.skeyidA, mid, pend.ni, pend.nr))) {
        this.c.rejectIv();
        return this.c.drop("bad Quick Mode HASH(3)");
      }
      this.c.acceptIv();
      km.forget(mid);
      this.peerQm = void 0;
      this.installPeerChild(pend);
      return;
    }
    if (this.c.st !== "established") {
      this.c.rejectIv();
      return this.c.drop("Quick Mode from the gateway before we are established");
    }
    if (!first || first.kind !== "data" || first.type !== V1Payload.HASH || !equalBytes(first.data, hashMid(km.hash, km.skeyidA, mid, rest))) {
      this.c.rejectIv();
      return this.c.drop("bad Quick Mode HASH(1)");
    }
    const sab = findData(c.payloads, V1Payload.SA);
    const ni = findData(c.payloads, V1Payload.NONCE);
    if (!sab || !ni || ni.length < 8 || ni.length > 256) {
      this.c.rejectIv();
      return this.c.drop("Quick Mode message 1 lacks SA or nonce");
    }
    this.c.acceptIv();
    const encap = this.encapsulation();
    const offered = this.c.cfg.phase2.map((x) => ({ ...x, lifeSeconds: 4294967295 }));
    let chosen;
    try {
      for (const prop of decodeSaBody(sab).proposals) {
        for (const t of prop.transforms) {
          try {
            chosen = decodePhase2Choice(
              encodeSaBody({ proposals: [{ ...prop, num: 1, transforms: [t] }] }),
              offered,
              encap
            );
            break;
          } catch {
          }
        }
        if (chosen) break;
      }
    } catch (e) {
      return this.c.drop("malformed Quick Mode SA", e.message);
    }
    if (!chosen) {
      this.c.log.warn("ike", "the gateway's Quick Mode offers no ESP transform we accept");
      this.c.sendInformational(sa, [
        this.c.notify(V1Notify.NO_PROPOSAL_CHOSEN, V1Protocol.ESP, new Uint8Array(0))
      ]);
      km.forget(mid);
      return;
    }
    const spec2 = chosen.spec;
    const cur = this.c.children.find((x) => !x.replaced);
    const ids = c.payloads.filter((p) => p.kind === "id");
    let tsLocal;
    let tsRemote;
    try {
      tsRemote = ids.length === 2 ? tsFromId(ids[0]) : cur.tsRemote;
      tsLocal = ids.length === 2 ? tsFromId(ids[1]) : cur.tsLocal;
    } catch (e) {
      return this.c.drop("bad Quick Mode identities", e.message);
    }
    const spi = this.c.newSpi();
    const nr = this.c.random.bytes(NONCE_LENGTH);
    let gqm;
    let ourKe;
    const theirKe = findData(c.payloads, V1Payload.KE);
    if (spec2.pfsGroup !== void 0) {
      if (!theirKe) return this.c.drop("PFS Quick Mode without a KE payload");
      const ke = createKeyExchange(spec2.pfsGroup, this.c.random);
      try {
        gqm = ke.computeSharedSecret(theirKe);
      } catch (e) {
        return this.c.drop("bad Quick Mode KE", e.message);
      }
      ourKe = ke.publicValue;
    }
    const rest2 = [
      { kind: "data", type: V1Payload.SA, data: encodePhase2Sa([spec2], spi, encap) },
      { kind: "data", type: V1Payload.NONCE, data: nr }
    ];
    if (ourKe) rest2.push({ kind: "data", type: V1Payload.KE, data: ourKe });
    rest2.push(...ids);
    const qm2 = this.c.sealHashed(
      sa,
      V1Exchange.QUICK_MODE,
      mid,
      rest2,
      (b) => qmHash2(km.hash, km.skeyidA, mid, ni, b)
    );
    this.c.transmit(qm2);
    sa.lastIn = this.c.lastDatagram;
    sa.lastOut = qm2;
    this.peerQm = {
      mid,
      ni: ni.slice(),
      nr,
      spi,
      peerSpi: chosen.spi,
      spec: spec2,
      tsLocal,
      tsRemote,
      ...gqm ? { gqm } : {}
    };
  }
  installPeerChild(q) {
    const km = this.c.sa.keymat;
    const len = q.spec.keyBits / 8 + 4;
    const inKey = quickModeKeymat(
      km.hash,
      km.skeyidD,
      V1Protocol.ESP,
      q.spi,
      q.ni,
      q.nr,
      len,
      q.gqm
    );
    const outKey = quickModeKeymat(
      km.hash,
      km.skeyidD,
      V1Protocol.ESP,
      q.peerSpi,
      q.ni,
      q.nr,
      len,
      q.gqm
    );
    q.gqm?.fill(0);
    const old = this.c.children.find((x) => !x.replaced);
    if (old) old.replaced = true;
    if (this.c.children.length >= LIMITS.childSas) {
      const oldest = this.c.children.find((x) => x.replaced);
      if (oldest) this.c.removeChild(oldest);
    }
    const child = {
      inboundSpi: q.spi,
      outboundSpi: q.peerSpi,
      spec: q.spec,
      tsLocal: q.tsLocal,
      tsRemote: q.tsRemote,
      replaced: false
    };
    this.c.children.push(child);
    const proposal = formatPhase2Spec(q.spec);
    this.c.push({
      kind: "installChild",
      child: {
        inbound: {
          spi: q.spi,
          encrId: q.spec.encrId,
          keymat: inKey,
          replayWindow: this.c.cfg.replayWindow
        },
        outbound: { spi: q.peerSpi, encrId: q.spec.encrId, keymat: outKey },
        tsLocal: [q.tsLocal],
        tsRemote: [q.tsRemote],
        proposal
      }
    });
    this.c.counters.childRekeys++;
    this.c.emit({ type: "rekeyed", what: "child", by: "peer", proposal });
  }
  onEstablished(child) {
    this.c.step = "done";
    const sa = this.c.sa;
    this.c.setState("established");
    this.c.emit({
      type: "established",
      info: {
        localId: formatIdentity(this.c.cfg.localId),
        remoteId: formatIdentity(sa.gwId),
        ikeProposal: formatPhase1Spec(sa.spec),
        espProposal: formatPhase2Spec(child.spec),
        natHere: this.c.natHere,
        natThere: this.c.natThere,
        config: this.c.config,
        tsLocal: [formatTs(child.tsLocal)],
        tsRemote: [formatTs(child.tsRemote)],
        spiI: toHex(sa.cookieI),
        spiR: toHex(sa.cookieR),
        remote: this.c.remote,
        ikeVersion: 1
      }
    });
    this.c.tasks.info.armDpd();
    this.armChildRekey();
    this.c.tasks.phase1.armIkeRekey();
  }
  deleteChild(c) {
    const d = {
      kind: "delete",
      type: V1Payload.DELETE,
      doi: IPSEC_DOI,
      protocol: V1Protocol.ESP,
      spiSize: 4,
      spis: [u323(c.inboundSpi)]
    };
    this.c.sendInformational(this.c.sa, [d]);
    this.c.removeChild(c);
  }
  /**
   * Our rekey of the IPsec SA: after cfg.childRekeyMs, or at 90 % of the lifetime the gateway
   * chose when that is shorter (minus up to 10 % jitter).
   */
  armChildRekey() {
    const life = this.childLifeMs > 0 ? this.childLifeMs * 0.9 : 0;
    const cfg = this.c.cfg.childRekeyMs;
    const after = cfg > 0 && life > 0 ? Math.min(cfg, life) : cfg > 0 ? cfg : life;
    if (after > 0)
      this.c.push({
        kind: "setTimer",
        timer: "rekey-child",
        at: this.c.now + this.c.jitter(after)
      });
  }
  startChildRekey() {
    if (this.c.st !== "established") return;
    const cur = this.c.children.find((c) => !c.replaced);
    if (!cur) return;
    if (this.c.outstanding) {
      this.c.push({ kind: "setTimer", timer: "rekey-child", at: this.c.now + 1e3 });
      return;
    }
    this.startQuickMode(cur);
  }
};

// src/ikev1/tasks/informational.ts
var Informational = class {
  c;
  constructor(c) {
    this.c = c;
  }
  dpdSeq = 0;
  dpdSeqs = [];
  // -------------------------------------------------------------------------------------------
  // Dead peer detection (RFC 3706)
  armDpd() {
    if (this.c.cfg.dpdDelayMs > 0)
      this.c.push({
        kind: "setTimer",
        timer: "dpd",
        at: Math.max(this.c.now, this.c.lastAlive) + this.c.cfg.dpdDelayMs
      });
  }
  onDpdTimer() {
    if (this.c.st !== "established" || this.c.cfg.dpdDelayMs <= 0) return;
    if (this.c.now < this.c.lastAlive + this.c.cfg.dpdDelayMs || this.c.outstanding) {
      this.armDpd();
      return;
    }
    this.sendDpd();
  }
  /** RFC 3706 §5: R-U-THERE with the next sequence number, in a protected Informational. */
  sendDpd() {
    const sa = this.c.sa;
    if (!sa.ready) return;
    if (this.dpdSeq === 0) this.dpdSeq = readU32(this.c.random.bytes(4)) & 2147483647;
    this.dpdSeq = this.dpdSeq + 1 >>> 0;
    this.dpdSeqs = [...this.dpdSeqs.slice(-7), this.dpdSeq];
    const mid = this.c.newMid();
    const msg = this.c.sealHashed(sa, V1Exchange.INFORMATIONAL, mid, [
      this.c.notify(
        V1Notify.DPD_R_U_THERE,
        V1Protocol.ISAKMP,
        this.c.cookies(sa),
        u323(this.dpdSeq)
      )
    ]);
    sa.keymat.forget(mid);
    this.c.counters.dpdSent++;
    this.c.emit({ type: "liveness-check" });
    this.c.request({
      exchange: V1Exchange.INFORMATIONAL,
      mid,
      data: msg,
      what: DPD_WHAT2,
      sa,
      onReply: () => void 0
    });
  }
  // -------------------------------------------------------------------------------------------
  // Informational exchanges (RFC 2408 §4.8, RFC 2409 §5.7, RFC 3706)
  onInformational(sa, h, c, plain, encrypted) {
    if (!encrypted) {
      if (sa.ready) return this.c.drop("unprotected informational");
      const n = c.payloads.find((p) => p.kind === "notify");
      const o = this.c.outstanding;
      if (!n || !o || o.sa !== sa) return this.c.drop("unprotected informational");
      if (sa === this.c.nextSa) {
        this.c.nextSa = void 0;
        this.c.outstanding = void 0;
        this.c.log.warn("ike", `phase 1 rekey refused: ${v1Name(V1Notify, n.notifyType)}`);
        return;
      }
      this.c.finishCloseWith(this.c.errorFromNotify(n.notifyType, o.what));
      return;
    }
    if (!this.c.checkHash(sa, h, c, plain)) {
      this.c.rejectIv();
      this.c.drop("bad informational hash");
      this.c.tasks.phase1.keysDiffer(sa, h);
      return;
    }
    this.c.acceptIv();
    sa.keymat.forget(h.messageId);
    this.c.lastAlive = this.c.now;
    for (const p of c.payloads.slice(1)) {
      if (this.c.st === "closed") return;
      if (p.kind === "notify") this.onNotify(sa, p);
      else if (p.kind === "delete") this.onDelete(sa, p);
    }
  }
  onNotify(sa, n) {
    switch (n.notifyType) {
      case V1Notify.DPD_R_U_THERE: {
        if (n.data.length !== 4) return this.c.drop("malformed R-U-THERE");
        this.c.sendInformational(sa, [
          this.c.notify(V1Notify.DPD_R_U_THERE_ACK, V1Protocol.ISAKMP, this.c.cookies(sa), n.data)
        ]);
        return;
      }
      case V1Notify.DPD_R_U_THERE_ACK: {
        if (n.data.length !== 4) return this.c.drop("malformed R-U-THERE-ACK");
        const seq2 = readU32(n.data);
        const o = this.c.outstanding;
        if (o && o.what === DPD_WHAT2 && this.dpdSeqs.includes(seq2)) {
          this.c.settle();
          this.armDpd();
        }
        return;
      }
      case V1Notify.INITIAL_CONTACT:
      case V1Notify.RESPONDER_LIFETIME:
      case V1Notify.REPLAY_STATUS:
        return;
      default: {
        const o = this.c.outstanding;
        if (n.notifyType < 16384 && this.c.st === "connecting" && o) {
          this.c.fail(this.c.errorFromNotify(n.notifyType, o.what));
          return;
        }
        this.c.log.info("ike", `gateway notification ${v1Name(V1Notify, n.notifyType)}`);
      }
    }
  }
  onDelete(sa, d) {
    if (d.protocol === V1Protocol.ISAKMP) {
      const self = d.spis.some((s) => equalBytes(s, this.c.cookies(sa)));
      if (!self) return;
      if (sa !== this.c.sa) return;
      this.c.finishClose(
        new VpnError("ERR_IKE_DELETED", "the gateway deleted the IKEv1 SA (ISAKMP SA)"),
        true
      );
      return;
    }
    if (d.protocol !== V1Protocol.ESP || d.spiSize !== 4) return;
    for (const s of d.spis) {
      const spi = readU32(s);
      const c = this.c.children.find((x) => x.outboundSpi === spi);
      if (!c) continue;
      this.c.removeChild(c);
    }
    if (this.c.children.length === 0 && this.c.st === "established" && !this.c.tasks.quick.qm) {
      const err = new VpnError("ERR_IKE_DELETED", "the gateway deleted the tunnel (IPsec SA)");
      this.c.fail(err);
    }
  }
};

// src/ikev1/modecfg/attributes.ts
var CfgType2 = { REQUEST: 1, REPLY: 2, SET: 3, ACK: 4 };
var ModeCfgAttr = {
  INTERNAL_IP4_ADDRESS: 1,
  INTERNAL_IP4_NETMASK: 2,
  INTERNAL_IP4_DNS: 3,
  INTERNAL_IP4_NBNS: 4,
  INTERNAL_ADDRESS_EXPIRY: 5,
  INTERNAL_IP4_DHCP: 6,
  APPLICATION_VERSION: 7,
  INTERNAL_IP6_ADDRESS: 8,
  INTERNAL_IP6_NETMASK: 9,
  INTERNAL_IP6_DNS: 10,
  INTERNAL_IP6_NBNS: 11,
  INTERNAL_IP6_DHCP: 12,
  INTERNAL_IP4_SUBNET: 13,
  SUPPORTED_ATTRIBUTES: 14,
  INTERNAL_IP6_SUBNET: 15
};
var XauthAttr = {
  TYPE: 16520,
  USER_NAME: 16521,
  USER_PASSWORD: 16522,
  PASSCODE: 16523,
  MESSAGE: 16524,
  CHALLENGE: 16525,
  DOMAIN: 16526,
  STATUS: 16527,
  NEXT_PIN: 16528,
  ANSWER: 16529
};
var XauthType = { GENERIC: 0, RADIUS_CHAP: 1, OTP: 2, S_KEY: 3 };
var XauthStatus = { FAIL: 0, OK: 1 };
var UnityAttr = {
  BANNER: 28672,
  SAVE_PASSWD: 28673,
  DEF_DOMAIN: 28674,
  SPLITDNS_NAME: 28675,
  SPLIT_INCLUDE: 28676,
  NATT_PORT: 28677,
  LOCAL_LAN: 28678,
  PFS: 28679,
  FW_TYPE: 28680,
  BACKUP_SERVERS: 28681,
  DDNS_HOSTNAME: 28682
};
var BASIC = /* @__PURE__ */ new Set([
  XauthAttr.TYPE,
  XauthAttr.STATUS,
  UnityAttr.SAVE_PASSWD,
  UnityAttr.NATT_PORT,
  UnityAttr.PFS
]);
var MAX_CFG_ATTRIBUTES = 256;
function protocolError(msg, cause) {
  return new VpnError("ERR_IKE_PROTOCOL", msg, cause === void 0 ? void 0 : { cause });
}
function decodeAttributePayload(body) {
  try {
    const r = new Reader(body);
    const cfgType = r.u8("attribute payload type");
    if (cfgType < CfgType2.REQUEST || cfgType > CfgType2.ACK)
      throw protocolError(`attribute payload has unknown type ${cfgType}`);
    r.u8("attribute payload reserved");
    const identifier = r.u16("attribute payload identifier");
    const attributes = [];
    while (r.remaining > 0) {
      if (attributes.length >= MAX_CFG_ATTRIBUTES)
        throw protocolError(`attribute payload has more than ${MAX_CFG_ATTRIBUTES} attributes`);
      const h = r.u16("attribute type");
      const type = h & 32767;
      const value = h & 32768 ? r.copy(2, "attribute value") : r.copy(r.u16("attribute length"));
      attributes.push({ type, value });
    }
    return { cfgType, identifier, attributes };
  } catch (e) {
    if (isVpnError(e) && e.code === "ERR_IKE_PROTOCOL") throw e;
    throw protocolError(
      `malformed attribute payload: ${e instanceof Error ? e.message : String(e)}`,
      e
    );
  }
}
function encodeAttributePayload(p) {
  const w = new Writer(64);
  w.u8(p.cfgType).u8(0).u16(p.identifier);
  for (const a of p.attributes) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > 32767)
      throw new VpnError("ERR_ARG", `attribute type ${a.type} out of range`);
    if (a.value.length > 65535)
      throw new VpnError("ERR_ARG", `attribute ${a.type} value longer than 65535 octets`);
    if (BASIC.has(a.type) && a.value.length === 2) w.u16(32768 | a.type).bytes(a.value);
    else w.u16(a.type).u16(a.value.length).bytes(a.value);
  }
  if (w.pos + 4 > 65535) throw new VpnError("ERR_ARG", "attribute payload too long");
  return w.finish();
}
function u16Value(v) {
  return new Uint8Array([v >> 8 & 255, v & 255]);
}
function numberValue(v) {
  if (v.length === 0 || v.length > 4) return void 0;
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

// src/ikev1/modecfg/text.ts
var MAX_MESSAGE_CHARS = 512;
var MAX_BANNER_CHARS = 2048;
var decoder = new TextDecoder("utf-8", { fatal: false });
function untrustedText(value, maxChars) {
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  const raw = decoder.decode(value.subarray(0, Math.min(end, 4 * (maxChars + 1))));
  const safe = printable(raw.replace(/\r\n/g, "\n"));
  return safe.length > maxChars ? `${safe.slice(0, maxChars - 1)}…` : safe;
}

// src/ikev1/modecfg/xauth.ts
var MAX_XAUTH_CREDENTIAL = 1024;
var MAX_REQUESTS = 4;
var UNSUPPORTED = {
  [XauthAttr.PASSCODE]: "a passcode (token or one-time password)",
  [XauthAttr.CHALLENGE]: "the answer to a challenge",
  [XauthAttr.NEXT_PIN]: "a new PIN",
  [XauthAttr.ANSWER]: "an answer to a question"
};
var TYPE_NAMES2 = {
  [XauthType.RADIUS_CHAP]: "RADIUS-CHAP",
  [XauthType.OTP]: "OTP",
  [XauthType.S_KEY]: "S/KEY"
};
var XauthClient = class {
  creds;
  requests = 0;
  passwordSent = false;
  /** The last XAUTH-MESSAGE the gateway sent (escaped, bounded). */
  lastMessage;
  constructor(creds) {
    this.creds = creds;
  }
  onMessage(p) {
    const m = p.attributes.find((a) => a.type === XauthAttr.MESSAGE);
    const message = m && m.value.length > 0 ? untrustedText(m.value, MAX_MESSAGE_CHARS) : void 0;
    if (message !== void 0) this.lastMessage = message;
    const withMessage = (s) => message === void 0 ? s : { ...s, message };
    switch (p.cfgType) {
      case CfgType2.REQUEST:
        return withMessage(this.onRequest(p, message));
      case CfgType2.SET:
        return withMessage(this.onSet(p, message));
      default:
        return withMessage(
          failed("ERR_IKE_PROTOCOL", `unexpected XAUTH message of type ${p.cfgType} from gateway`)
        );
    }
  }
  onRequest(p, message) {
    this.requests++;
    const said = message === void 0 ? "" : ` (gateway says: "${message}")`;
    if (this.requests > MAX_REQUESTS)
      return failed(
        "ERR_IKE_AUTH_FAILED",
        `gateway asked for XAUTH credentials ${this.requests} times`
      );
    const asked = new Set(p.attributes.map((a) => a.type));
    const typeAttr = p.attributes.find((a) => a.type === XauthAttr.TYPE);
    const type = typeAttr && typeAttr.value.length > 0 ? numberValue(typeAttr.value) : XauthType.GENERIC;
    if (type !== XauthType.GENERIC)
      return failed(
        "ERR_IKE_AUTH_FAILED",
        `gateway asks for XAUTH type ${type === void 0 ? "(malformed)" : TYPE_NAMES2[type] ?? String(type)}; only generic user name and password XAUTH is supported${said}`
      );
    for (const [t, what] of Object.entries(UNSUPPORTED)) {
      if (asked.has(Number(t)))
        return failed(
          "ERR_IKE_AUTH_FAILED",
          `gateway asks for ${what} in XAUTH, which is not supported (only user name and password)${said}`
        );
    }
    const wantsUser = asked.has(XauthAttr.USER_NAME);
    const wantsPassword = asked.has(XauthAttr.USER_PASSWORD);
    if (!wantsUser && !wantsPassword)
      return failed(
        "ERR_IKE_PROTOCOL",
        `gateway's XAUTH request asks for neither a user name nor a password${said}`
      );
    if (wantsPassword && this.passwordSent)
      return failed(
        "ERR_IKE_AUTH_FAILED",
        `XAUTH failed: the gateway asked for the password again (wrong user name or password?)${said}`
      );
    const user = new TextEncoder().encode(this.creds.user);
    if (wantsUser && user.length > MAX_XAUTH_CREDENTIAL || wantsPassword && this.creds.password.length > MAX_XAUTH_CREDENTIAL)
      return failed(
        "ERR_CONFIG",
        `the XAUTH user name and password must be at most ${MAX_XAUTH_CREDENTIAL} bytes each`
      );
    const attributes = [];
    if (typeAttr) attributes.push({ type: XauthAttr.TYPE, value: u16Value(XauthType.GENERIC) });
    if (wantsUser) attributes.push({ type: XauthAttr.USER_NAME, value: user });
    if (wantsPassword) {
      attributes.push({ type: XauthAttr.USER_PASSWORD, value: this.creds.password });
      this.passwordSent = true;
    }
    return {
      kind: "reply",
      payload: { cfgType: CfgType2.REPLY, identifier: p.identifier, attributes }
    };
  }
  onSet(p, message) {
    const said = message === void 0 ? "" : ` (gateway says: "${message}")`;
    const s = p.attributes.find((a) => a.type === XauthAttr.STATUS);
    const status = s ? numberValue(s.value) : void 0;
    if (status === void 0)
      return failed("ERR_IKE_PROTOCOL", "gateway sent an XAUTH SET without a usable XAUTH-STATUS");
    const ack = {
      cfgType: CfgType2.ACK,
      identifier: p.identifier,
      attributes: [{ type: XauthAttr.STATUS, value: new Uint8Array(0) }]
    };
    if (status === XauthStatus.OK) return { kind: "done", ack };
    if (status === XauthStatus.FAIL)
      return {
        kind: "failed",
        ack,
        error: new VpnError(
          "ERR_IKE_AUTH_FAILED",
          `XAUTH failed: the gateway rejected the user name or password${said}`
        )
      };
    return {
      kind: "failed",
      ack,
      error: new VpnError("ERR_IKE_PROTOCOL", `gateway sent unknown XAUTH-STATUS ${status}`)
    };
  }
};
function failed(code, msg) {
  return { kind: "failed", error: new VpnError(code, msg) };
}

// src/ikev1/modecfg/modecfg.ts
var MAX_SPLIT_INCLUDE = LIMITS.subnets;
var MAX_NBNS = 4;
var SPLIT_ENTRY = 14;
var empty = () => new Uint8Array(0);
var ModeConfigClient = class {
  identifier;
  unity;
  constructor(opts2) {
    if (!Number.isInteger(opts2.identifier) || opts2.identifier < 0 || opts2.identifier > 65535)
      throw new VpnError("ERR_ARG", `Mode Config identifier ${opts2.identifier} out of range`);
    this.identifier = opts2.identifier;
    this.unity = opts2.unity;
  }
  /** Pull mode: our REQUEST (§3.3), every attribute with an empty value. */
  request() {
    const types = [
      ModeCfgAttr.INTERNAL_IP4_ADDRESS,
      ModeCfgAttr.INTERNAL_IP4_NETMASK,
      ModeCfgAttr.INTERNAL_IP4_DNS,
      ModeCfgAttr.INTERNAL_IP4_NBNS
    ];
    if (this.unity)
      types.push(
        UnityAttr.BANNER,
        UnityAttr.DEF_DOMAIN,
        UnityAttr.SPLITDNS_NAME,
        UnityAttr.SPLIT_INCLUDE
      );
    return {
      cfgType: CfgType2.REQUEST,
      identifier: this.identifier,
      attributes: types.map((type) => ({ type, value: empty() }))
    };
  }
  /**
   * The gateway's REPLY: it must be a REPLY with our identifier (§3.2); then every attribute is
   * checked and every list bounded. A virtual IP that cannot be one is an error; a bad DNS server,
   * netmask, network or domain is dropped with a warning.
   */
  onReply(p) {
    if (p.cfgType !== CfgType2.REPLY)
      return new VpnError(
        "ERR_IKE_PROTOCOL",
        `Mode Config: expected a REPLY (2), gateway sent type ${p.cfgType}`
      );
    if (p.identifier !== this.identifier)
      return new VpnError(
        "ERR_IKE_PROTOCOL",
        `Mode Config: reply identifier ${p.identifier} does not match our request's ${this.identifier}`
      );
    return parseModeCfgAttributes(p.attributes);
  }
  /**
   * Push mode (§3.4): the gateway SETs attributes; we take them and ACK the ones we took (the
   * types with empty values), with its identifier.
   */
  onSet(p) {
    if (p.cfgType !== CfgType2.SET)
      return new VpnError(
        "ERR_IKE_PROTOCOL",
        `Mode Config: expected a SET (3), gateway sent type ${p.cfgType}`
      );
    const result = parseModeCfgAttributes(p.attributes);
    if (result instanceof VpnError) return result;
    const unknown = new Set(result.unknown ?? []);
    const taken = [...new Set(p.attributes.map((a) => a.type))].filter((t) => !unknown.has(t));
    return {
      result,
      ack: {
        cfgType: CfgType2.ACK,
        identifier: p.identifier,
        attributes: taken.map((type) => ({ type, value: empty() }))
      }
    };
  }
};
function unusableV4(b) {
  return b[0] === 0 || b[0] === 127 || b[0] >= 224;
}
function maskPrefix(m) {
  const n = (m[0] << 24 | m[1] << 16 | m[2] << 8 | m[3]) >>> 0;
  const inv = ~n >>> 0;
  if ((inv & inv + 1) !== 0) return void 0;
  let p = 0;
  for (let x = n; x & 2147483648; x = x << 1 >>> 0) p++;
  return p;
}
function networkOf(addr, mask2) {
  return formatIpAddress(new Uint8Array([0, 1, 2, 3].map((i) => addr[i] & mask2[i])));
}
function splitDnsNames(v) {
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  const names = [];
  let bad = 0;
  let text = "";
  for (let i = 0; i < end; i++) {
    const c = v[i];
    if (c < 32 || c > 126) return { names: [], bad: 1 };
    text += String.fromCharCode(c);
  }
  for (const raw of text.split(/[,\s]+/)) {
    if (raw === "") continue;
    const d = raw.endsWith(".") ? raw.slice(0, -1) : raw;
    if (isDomainName(d)) names.push(d.toLowerCase());
    else bad++;
  }
  return { names, bad };
}
function parseModeCfgAttributes(attrs) {
  const out = { dns4: [], nbns4: [], splitInclude: [], splitDns: [] };
  const warnings = [];
  const unknown = [];
  const dropped = /* @__PURE__ */ new Map();
  const drop2 = (what) => {
    dropped.set(what, (dropped.get(what) ?? 0) + 1);
  };
  const addUnique = (list2, v, max, what, same = (a) => a === v) => {
    if (list2.some(same)) return;
    if (list2.length >= max) drop2(`${what} beyond the first ${max}`);
    else list2.push(v);
  };
  const addNetwork = (addr, mask2) => {
    const prefix = maskPrefix(mask2);
    if (prefix === void 0) return drop2("split networks with a non-contiguous mask");
    const network = networkOf(addr, mask2);
    addUnique(
      out.splitInclude,
      { network, prefix },
      MAX_SPLIT_INCLUDE,
      "split networks",
      (a) => a.network === network && a.prefix === prefix
    );
  };
  for (const a of attrs) {
    const v = a.value;
    switch (a.type) {
      case ModeCfgAttr.INTERNAL_IP4_ADDRESS:
        if (v.length === 0) break;
        if (out.ip4 !== void 0) break;
        if (v.length !== 4)
          return new VpnError(
            "ERR_IKE_PROTOCOL",
            `Mode Config: INTERNAL_IP4_ADDRESS has ${v.length} octets, expected 4`
          );
        if (unusableV4(v))
          return new VpnError(
            "ERR_IKE_PROTOCOL",
            `Mode Config: gateway assigned ${formatIpAddress(v)}, which cannot be a virtual IP`
          );
        out.ip4 = formatIpAddress(v);
        break;
      case ModeCfgAttr.INTERNAL_IP4_NETMASK:
        if (v.length === 0) break;
        if (v.length !== 4 || maskPrefix(v) === void 0) drop2("malformed netmasks");
        else out.netmask4 ??= formatIpAddress(v);
        break;
      case ModeCfgAttr.INTERNAL_IP4_DNS:
      case ModeCfgAttr.INTERNAL_IP4_NBNS: {
        if (v.length === 0) break;
        const dns = a.type === ModeCfgAttr.INTERNAL_IP4_DNS;
        const what = dns ? "DNS servers" : "NBNS servers";
        if (v.length !== 4 || unusableV4(v)) {
          drop2(`malformed or unusable ${what}`);
          break;
        }
        const list2 = dns ? out.dns4 : out.nbns4;
        addUnique(list2, formatIpAddress(v), dns ? LIMITS.dnsPerFamily : MAX_NBNS, what);
        break;
      }
      case ModeCfgAttr.INTERNAL_IP4_SUBNET:
        if (v.length === 0) break;
        if (v.length !== 8) drop2("malformed INTERNAL_IP4_SUBNET values");
        else addNetwork(v.subarray(0, 4), v.subarray(4, 8));
        break;
      case UnityAttr.SPLIT_INCLUDE: {
        let off = 0;
        while (v.length - off >= 8) {
          addNetwork(v.subarray(off, off + 4), v.subarray(off + 4, off + 8));
          off += SPLIT_ENTRY;
        }
        if (off < v.length) drop2("malformed UNITY_SPLIT_INCLUDE entries");
        break;
      }
      case UnityAttr.DEF_DOMAIN: {
        if (v.length === 0) break;
        const d = parseDomainAttribute(v);
        if (d === void 0) drop2("malformed default domains");
        else out.defaultDomain ??= d;
        break;
      }
      case UnityAttr.SPLITDNS_NAME: {
        if (v.length === 0) break;
        const { names, bad } = splitDnsNames(v);
        for (let i = 0; i < bad; i++) drop2("malformed split DNS names");
        for (const n of names) addUnique(out.splitDns, n, LIMITS.domains, "split DNS names");
        break;
      }
      case UnityAttr.BANNER:
        if (v.length === 0) break;
        out.banner ??= untrustedText(v, MAX_BANNER_CHARS);
        break;
      default:
        if (!unknown.includes(a.type) && unknown.length < 16) unknown.push(a.type);
    }
  }
  for (const [what, n] of dropped) warnings.push(`Mode Config: ignored ${n} ${what}`);
  if (warnings.length > 0) out.warnings = warnings;
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}
function toConfigReply(r) {
  const out = {
    dns4: [...r.dns4],
    dns6: [],
    domains: [],
    subnets: r.splitInclude.map((s) => `${s.network}/${s.prefix}`),
    unknown: [...r.unknown ?? []]
  };
  if (r.ip4 !== void 0) out.ip4 = r.ip4;
  if (r.netmask4 !== void 0) out.ip4Netmask = r.netmask4;
  for (const d of [...r.defaultDomain === void 0 ? [] : [r.defaultDomain], ...r.splitDns])
    if (!out.domains.includes(d)) out.domains.push(d);
  return out;
}

// src/ikev1/tasks/transaction.ts
var XAUTH_FIRST = 16520;
var XAUTH_LAST = 16529;
var MAX_MIDS = 8;
var Transactions = class {
  s;
  /** The XAUTH conversation, one per ISAKMP SA (a phase 1 rekey runs XAUTH again). */
  xauth;
  modecfg;
  /** A Mode Config push that came before we were ready for it. */
  pushed;
  /** Message IDs of the gateway's transactions in progress (their IV chains continue). */
  mids = [];
  constructor(s) {
    this.s = s;
  }
  knows(mid) {
    return this.mids.includes(mid);
  }
  remember(mid) {
    if (this.mids.includes(mid)) return;
    this.mids.push(mid);
    if (this.mids.length > MAX_MIDS) this.mids.shift();
  }
  attrPayload(p) {
    return { kind: "data", type: V1Payload.ATTRIBUTE, data: encodeAttributePayload(p) };
  }
  /** Mode Config pull (draft-dukes-ike-mode-cfg-02 §3.3): our REQUEST in a new transaction. */
  startModeConfig(sa) {
    const s = this.s;
    const pushed = this.pushed;
    if (pushed) {
      this.pushed = void 0;
      s.tasks.phase1.modeConfigDone(pushed.config, pushed.ip4);
      return;
    }
    const mid = s.newMid();
    const identifier = mid & 65535;
    this.modecfg = new ModeConfigClient({ identifier, unity: sa.peer.unity });
    const msg = s.sealHashed(sa, V1Exchange.TRANSACTION, mid, [this.attrPayload(this.modecfg.request())]);
    s.request({
      exchange: V1Exchange.TRANSACTION,
      mid,
      data: msg,
      what: "Mode Config request",
      sa,
      onReply: (_h, c) => this.onModeCfgReply(sa, mid, c)
    });
  }
  onModeCfgReply(sa, mid, c) {
    const s = this.s;
    const body = findData(c.payloads, V1Payload.ATTRIBUTE);
    if (!body) return s.drop("Mode Config reply without an attribute payload");
    let p;
    try {
      p = decodeAttributePayload(body);
    } catch (e) {
      return s.drop("malformed attribute payload", e.message);
    }
    const r = this.modecfg.onReply(p);
    if (isVpnError(r)) return s.drop("bad Mode Config reply", r.message);
    s.acceptIv();
    sa.keymat.forget(mid);
    s.settle();
    const config = toConfigReply(r);
    if (r.banner) s.log.info("ike", `gateway banner: ${r.banner}`);
    s.tasks.phase1.modeConfigDone(config, r.ip4);
  }
  /**
   * Mode Config push (draft-dukes-ike-mode-cfg-02 §3.4): the gateway SETs our address and DNS; we
   * ACK what we took and go on as after a pull REPLY (a pull REQUEST of ours still in flight is
   * then answered by this).
   */
  onModeCfgPush(sa, mid, p) {
    const s = this.s;
    const client = this.modecfg ?? new ModeConfigClient({ identifier: p.identifier, unity: sa.peer.unity });
    const r = client.onSet(p);
    if (isVpnError(r)) return s.drop("bad Mode Config SET", r.message);
    this.answer(sa, mid, r.ack);
    if (r.result.banner) s.log.info("ike", `gateway banner: ${r.result.banner}`);
    if (!s.cfg.modeConfig) return;
    const result = { config: toConfigReply(r.result), ip4: r.result.ip4 };
    if (s.step !== "modecfg") {
      if (s.step === "phase1" || s.step === "xauth") this.pushed = result;
      return;
    }
    const o = s.outstanding;
    if (o && o.exchange === V1Exchange.TRANSACTION) {
      sa.keymat.forget(o.mid);
      s.settle();
    }
    s.tasks.phase1.modeConfigDone(result.config, result.ip4);
  }
  /** A Transaction message: the answer to our Mode Config request, or the gateway's request. */
  onMessage(sa, h, c, plain) {
    const s = this.s;
    if (!s.checkHash(sa, h, c, plain)) {
      s.rejectIv();
      return s.drop("bad transaction hash");
    }
    const o = s.outstanding;
    if (o && o.exchange === V1Exchange.TRANSACTION && o.mid === h.messageId) {
      o.onReply(h, c, plain);
      return;
    }
    const body = findData(c.payloads, V1Payload.ATTRIBUTE);
    if (!body) {
      s.rejectIv();
      return s.drop("transaction without an attribute payload");
    }
    let p;
    try {
      p = decodeAttributePayload(body);
    } catch (e) {
      s.rejectIv();
      return s.drop("malformed attribute payload", e.message);
    }
    s.acceptIv();
    this.remember(h.messageId);
    const isXauth = p.attributes.some((a) => a.type >= XAUTH_FIRST && a.type <= XAUTH_LAST);
    if (p.cfgType === CfgType2.SET && !isXauth) {
      this.onModeCfgPush(sa, h.messageId, p);
      return;
    }
    if (p.cfgType === CfgType2.REQUEST || p.cfgType === CfgType2.SET) {
      if (!s.cfg.xauth) {
        s.fail(
          new VpnError(
            "ERR_IKE_AUTH_FAILED",
            "the gateway requires XAUTH (a user name and password after the group key): give --xauth-user and --xauth-password-file"
          )
        );
        return;
      }
      if (this.xauth?.sa !== sa) this.xauth = { sa, client: new XauthClient(s.cfg.xauth) };
      let step;
      try {
        step = this.xauth.client.onMessage(p);
      } catch (e) {
        s.fail(isVpnError(e) ? e : new VpnError("ERR_IKE_PROTOCOL", e.message));
        return;
      }
      if (step.message !== void 0)
        s.log.info("ike", `XAUTH: the gateway says "${step.message}"`);
      switch (step.kind) {
        case "reply":
          this.answer(sa, h.messageId, step.payload);
          return;
        case "done":
          this.answer(sa, h.messageId, step.ack);
          s.log.info("ike", "XAUTH succeeded");
          s.tasks.phase1.xauthSucceeded(sa);
          return;
        case "failed":
          if (step.ack) this.answer(sa, h.messageId, step.ack);
          s.fail(step.error);
          return;
      }
    }
    s.drop("unexpected transaction", `type ${p.cfgType}`);
  }
  /** Our answer in the gateway's transaction (same message ID), cached for its retransmissions. */
  answer(sa, mid, p) {
    const s = this.s;
    const msg = s.sealHashed(sa, V1Exchange.TRANSACTION, mid, [this.attrPayload(p)]);
    sa.lastIn = s.lastDatagram;
    sa.lastOut = msg;
    s.transmit(msg);
  }
};

// src/ikev1/session.ts
var Ikev1Session = class {
  c;
  constructor(cfg, random, logger = NOOP_LOGGER) {
    if (cfg.phase1.length === 0) throw new VpnError("ERR_CONFIG", "no IKEv1 phase 1 proposal");
    if (cfg.phase2.length === 0)
      throw new VpnError("ERR_CONFIG", "no IKEv1 phase 2 (ESP) proposal");
    if (cfg.aggressive && cfg.auth.kind !== "psk")
      throw new VpnError(
        "ERR_CONFIG",
        "IKEv1 Aggressive Mode is supported with a pre-shared key only"
      );
    authMethodFor(cfg.auth, cfg.xauth !== void 0);
    const c = new V1Context(cfg, random, logger);
    this.c = c;
    c.tasks = {
      phase1: new Phase1(c),
      quick: new QuickMode(c),
      info: new Informational(c),
      tx: new Transactions(c)
    };
  }
  /** Total time from the first send until we give up, for messages (RFC 2408 §5 retransmission). */
  totalTimeoutMs() {
    return this.c.totalTimeoutMs();
  }
  /** Counters of what the session sent, retransmitted, rekeyed and dropped (by reason). */
  get counters() {
    return this.c.counters;
  }
  // -------------------------------------------------------------------------------------------
  // The driver's view (contract 3)
  get state() {
    return this.c.st;
  }
  get remoteEndpoint() {
    return this.c.remote;
  }
  get isNatHere() {
    return this.c.natHere;
  }
  get usesNatT() {
    return this.c.natT;
  }
  /** IKEv1 fragmentation and MOBIKE are not implemented. */
  get peerSupportsFragmentation() {
    return false;
  }
  get peerSupportsMobike() {
    return false;
  }
  /** Feeds one input; returns what the driver must do, in order. Never throws on bad peer input. */
  handle(input, now) {
    this.c.now = now;
    this.c.out = [];
    try {
      switch (input.kind) {
        case "start":
          this.c.tasks.phase1.start(input.local, input.remote);
          break;
        case "datagram":
          this.onDatagram(input.data, input.from);
          break;
        case "timer":
          this.onTimer(input.timer);
          break;
        case "close":
          this.close();
          break;
        case "activity":
          this.c.lastAlive = Math.max(this.c.lastAlive, input.at);
          break;
        case "probe":
          if (this.c.st === "established" && !this.c.outstanding) this.c.tasks.info.sendDpd();
          break;
        case "wake":
          if (this.c.st === "established") {
            if (!this.c.outstanding) this.c.tasks.info.sendDpd();
            if (this.c.outstanding) {
              this.c.outstanding.tries = Math.max(
                this.c.outstanding.tries,
                this.c.cfg.retransmit.tries
              );
              this.c.push({ kind: "setTimer", timer: "retransmit", at: now + input.budgetMs });
            }
          }
          break;
        case "rekeyChild":
          this.c.tasks.quick.startChildRekey();
          break;
        case "localAddress":
          this.c.local = input.local;
          break;
        case "eapResponse":
        case "eapFailed":
          break;
      }
    } catch (e) {
      const err = isVpnError(e) ? e : new VpnError("ERR_IKE_PROTOCOL", `internal error: ${e.message}`, { cause: e });
      this.c.fail(err);
    }
    return this.c.out;
  }
  close() {
    if (this.c.st === "closed") return;
    if (this.c.sa.ready) {
      this.c.setState("deleting");
      this.c.sendDeletes();
    }
    if (this.c.retiring) this.c.tasks.phase1.retireOld();
    this.c.finishClose(void 0, false);
  }
  // -------------------------------------------------------------------------------------------
  // Timers
  onTimer(timer) {
    switch (timer) {
      case "dpd":
        this.c.tasks.info.onDpdTimer();
        return;
      case "rekey-child":
        this.c.tasks.quick.startChildRekey();
        return;
      case "rekey-ike":
        if (this.c.retiring) this.c.tasks.phase1.retireOld();
        else this.c.tasks.phase1.startIkeRekey();
        return;
      case "retransmit":
        this.onRetransmit();
        return;
    }
  }
  onRetransmit() {
    const o = this.c.outstanding;
    if (!o) {
      if (this.c.step === "xauth" && this.c.st === "connecting")
        this.c.fail(
          new VpnError(
            "ERR_IKE_TIMEOUT",
            "the gateway did not start XAUTH after phase 1 (is XAUTH configured on it?)"
          )
        );
      return;
    }
    if (o.tries >= this.c.cfg.retransmit.tries) {
      this.c.outstanding = void 0;
      if (o.sa === this.c.nextSa) {
        this.c.nextSa = void 0;
        this.c.log.warn("ike", `phase 1 rekey got no answer to ${o.what}`);
        return;
      }
      const from = `${this.c.remote.address}:${this.c.remote.port}`;
      const total = (this.c.totalTimeoutMs() / 1e3).toFixed(1);
      const dead = o.what === DPD_WHAT2 ? ": the gateway is down or unreachable (dead peer detection)" : "";
      const err = o.onTimeout ? o.onTimeout(o) : new VpnError(
        "ERR_IKE_TIMEOUT",
        o.bad ? `${o.bad.count} datagrams arrived from ${from} in answer to ${o.what} (${o.tries + 1} attempts over ${total} s), but none could be verified or parsed (last: ${o.bad.last})` : `no answer from ${from} to ${o.what} after ${o.tries + 1} attempts over ${total} s${dead}`
      );
      this.c.fail(err);
      return;
    }
    o.tries++;
    this.c.counters.retransmits++;
    this.c.log.debug("ike", `retransmitting ${o.what} (try ${o.tries + 1})`);
    this.c.transmit(o.data);
    this.c.push({
      kind: "setTimer",
      timer: "retransmit",
      at: this.c.now + this.c.timeoutFor(o.tries)
    });
  }
  saFor(h) {
    for (const sa of [this.c.sa, this.c.nextSa, this.c.retiring]) {
      if (!sa || !equalBytes(sa.cookieI, h.cookieI)) continue;
      if (equalBytes(sa.cookieR, h.cookieR)) return sa;
      if (sa.cookieR.every((b) => b === 0) && this.c.outstanding?.sa === sa) return sa;
    }
    return void 0;
  }
  onDatagram(data, from) {
    this.c.counters.received++;
    if (this.c.st === "closed" || this.c.st === "created") return this.c.drop("not connected");
    if (from.address !== this.c.remote.address) return this.c.drop("unknown sender", from.address);
    this.c.lastDatagram = data;
    let m;
    try {
      m = decodeV1Message(data);
    } catch (e) {
      return this.c.drop("malformed", e.message);
    }
    const h = m.header;
    const sa = this.saFor(h);
    if (!sa) return this.c.drop("unknown cookies");
    if (sa.lastIn && equalBytes(sa.lastIn, data)) {
      if (sa.lastOut) {
        this.c.counters.retransmits++;
        this.c.transmit(sa.lastOut);
      }
      return this.c.drop("retransmitted request");
    }
    if (this.c.tasks.quick.lastQm && equalBytes(this.c.tasks.quick.lastQm.qm2, data)) {
      this.c.transmit(this.c.tasks.quick.lastQm.qm3);
      return this.c.drop("retransmitted Quick Mode message 2");
    }
    let chain;
    let plain;
    const encrypted = (h.flags & V1Flag.ENCRYPTION) !== 0;
    if (encrypted) {
      const km = sa.keymat;
      if (!km) return this.c.drop("encrypted before keys");
      const mid = h.exchangeType === V1Exchange.MAIN_MODE || h.exchangeType === V1Exchange.AGGRESSIVE ? 0 : h.messageId;
      const known = mid === 0 || this.c.knownMid(mid);
      try {
        ({ plain, chain } = openV1Body(km.cipher, km.ivFor(mid), h.nextPayload, m.body));
      } catch (e) {
        if (!known) km.forget(mid);
        this.c.drop("undecryptable", e.message);
        this.c.tasks.phase1.keysDiffer(sa, h);
        return;
      }
      this.c.pendingIv = { sa, mid, ct: m.body, known };
    } else {
      chain = m.chain;
      plain = m.body;
      this.c.pendingIv = void 0;
    }
    this.dispatch(sa, h, chain, plain, encrypted);
    this.c.pendingIv = void 0;
  }
  dispatch(sa, h, c, plain, encrypted) {
    const o = this.c.outstanding;
    const ex = h.exchangeType;
    if (ex === V1Exchange.INFORMATIONAL)
      return this.c.tasks.info.onInformational(sa, h, c, plain, encrypted);
    if (!encrypted && sa.ready) return this.c.drop("unprotected message after phase 1");
    if ((ex === V1Exchange.MAIN_MODE || ex === V1Exchange.AGGRESSIVE) && h.messageId === 0) {
      if (!o || o.sa !== sa || o.exchange !== ex || sa.ready)
        return this.c.drop("unexpected phase 1 message");
      const before = this.c.dropTotal;
      o.onReply(h, c, plain);
      if (this.c.dropTotal === before && encrypted) this.c.acceptIv();
      else if (encrypted) this.c.rejectIv();
      if (this.c.dropTotal === before) {
        sa.lastIn = this.c.lastDatagram;
        if (ex !== V1Exchange.AGGRESSIVE) sa.lastOut = void 0;
      }
      return;
    }
    if (!encrypted) return this.c.drop("unprotected phase 2 message");
    if (!sa.ready) return this.c.drop("phase 2 message before phase 1 completed");
    if (ex === V1Exchange.QUICK_MODE) {
      if (o && o.exchange === V1Exchange.QUICK_MODE && o.mid === h.messageId) {
        const before = this.c.dropTotal;
        o.onReply(h, c, plain);
        if (this.c.dropTotal === before) this.c.acceptIv();
        else this.c.rejectIv();
        return;
      }
      this.c.tasks.quick.onPeerQuickMode(sa, h, c, plain);
      return;
    }
    if (ex === V1Exchange.TRANSACTION) {
      this.c.tasks.tx.onMessage(sa, h, c, plain);
      return;
    }
    this.c.rejectIv();
    this.c.drop("unsupported exchange", v1Name(V1Exchange, ex));
  }
};

// src/client/ikev1.ts
function ikev1EspText(opts2) {
  return opts2.espProposals ?? DEFAULT_V1_PHASE2_PROPOSALS;
}
function ikev1Base(opts2, ids, ts, retransmit) {
  const v1 = opts2.ikev1 ?? {};
  if (v1.aggressive && opts2.credentials.auth.kind !== "psk")
    throw new VpnError("ERR_CONFIG", "IKEv1 Aggressive Mode works with a pre-shared key only");
  return {
    localId: ids.localId,
    ...ids.remoteId ? { remoteId: ids.remoteId } : {},
    phase1: parseV1Phase1Proposals(
      opts2.ikeProposals ?? defaultV1Phase1Proposals(v1.legacy === true),
      {
        legacy: v1.legacy === true
      }
    ),
    phase2: parseV1Phase2Proposals(
      ikev1EspText(opts2),
      v1.pfsGroup !== void 0 ? { pfsGroup: v1.pfsGroup } : {}
    ),
    aggressive: v1.aggressive === true,
    ...v1.xauth ? { xauth: v1.xauth } : {},
    // Mode Config pull (draft-dukes-ike-mode-cfg-02): a virtual IP, and DNS unless --dns off.
    modeConfig: true,
    tsLocal: ts.local,
    tsRemote: ts.remote,
    forceEncap: true,
    retransmit,
    replayWindow: 1024,
    dpdDelayMs: opts2.dpdMs ?? 3e4,
    childRekeyMs: opts2.rekeyMs ?? 50 * 60 * 1e3,
    ikeRekeyMs: opts2.ikeRekeyMs ?? 3.5 * 3600 * 1e3,
    initialContact: true
  };
}
function newIkev1Session(base, attempt, random, log) {
  if (attempt.auth.kind === "eap")
    throw new VpnError("ERR_CONFIG", "EAP is IKEv2 only; IKEv1 gateways take XAUTH instead");
  return new Ikev1Session(
    { ...base, auth: attempt.auth, gatewayAuth: attempt.gatewayAuth },
    random,
    log
  );
}
function splitIncludeSelectors(subnets, child) {
  const out = [];
  for (const cidr of subnets) {
    let ts;
    try {
      ts = tsFromCidr(cidr);
    } catch {
      continue;
    }
    const covered = child.some(
      (c) => c.startAddr.length === ts.startAddr.length && Buffer.compare(c.startAddr, ts.startAddr) <= 0 && Buffer.compare(ts.endAddr, c.endAddr) <= 0
    );
    if (covered) out.push(ts);
  }
  return out.length > 0 ? out : void 0;
}
function v1Stage(stage, opts2) {
  if (stage === "ike-auth") return "quick-mode";
  return opts2.ikev1?.aggressive ? "aggressive-mode" : "main-mode";
}
var INVALID_MAJOR_VERSION = 5;
var NOTIFY = 41;
function refusesIkev2(data, ourSpi) {
  if (!ourSpi || ourSpi.length !== 8 || data.length < 28) return void 0;
  for (let i = 0; i < 8; i++) if (data[i] !== ourSpi[i]) return void 0;
  const major = data[17] >> 4;
  if (major === 1) return "the gateway answered IKEv2 with an IKEv1 (ISAKMP) message";
  if (major === 2 && data[16] === NOTIFY && data.length >= 36) {
    const type = data[34] << 8 | data[35];
    if (type === INVALID_MAJOR_VERSION) return "the gateway answered INVALID_MAJOR_VERSION";
  }
  return void 0;
}

// src/client/retransmit.ts
function retransmitPolicyFor(totalMs) {
  const base = 1.5;
  const timeoutMs = Math.max(100, Math.min(1e3, totalMs / 10));
  const maxTimeoutMs = Math.max(timeoutMs, Math.min(1e4, totalMs / 20));
  let tries = 0;
  let sum = timeoutMs;
  for (; ; ) {
    const next = Math.min(maxTimeoutMs, timeoutMs * Math.pow(base, tries + 1));
    if (sum + next > totalMs) break;
    sum += next;
    tries++;
  }
  return { timeoutMs, base, tries, maxTimeoutMs };
}
function totalWait(p) {
  let t = 0;
  for (let i = 0; i <= p.tries; i++)
    t += Math.min(p.maxTimeoutMs, p.timeoutMs * Math.pow(p.base, i));
  return t;
}

// src/client/ike-version.ts
var IKE_TIMER_SET = {
  retransmit: true,
  dpd: true,
  "rekey-child": true,
  "rekey-ike": true
};
var IKE_TIMERS = Object.keys(IKE_TIMER_SET);
var AutoVersion = class {
  /** Still on the first IKEv2 attempt, IKEv1 possible. */
  pending;
  /** Between dropping the IKEv2 attempt and starting IKEv1 (no session runs then). */
  fallingBack = false;
  /** Our IKE SPI of that attempt (its IKE_SA_INIT's first 8 bytes). */
  spi;
  /** The gateway answered it (a datagram with our IKE SPI). */
  answered = false;
  constructor(auto) {
    this.pending = auto;
  }
  /** We sent an IKE datagram. */
  sent(data) {
    if (this.pending && !this.spi) this.spi = data.slice(0, 8);
  }
  /** A datagram arrived during the IKEv2 attempt: the reason to fall back, when it is one. */
  received(data) {
    if (!this.pending) return void 0;
    const refusal = refusesIkev2(data, this.spi);
    if (refusal !== void 0) return refusal;
    const spi = this.spi;
    if (spi && data.length >= 8 && spi.every((b, i) => b === data[i])) this.answered = true;
    return void 0;
  }
  /** The IKEv2 attempt closed with `error`: fall back when it never got an answer. */
  closed(error, stopping) {
    const fallBack = this.pending && !this.answered && error?.code === "ERR_IKE_TIMEOUT" && !stopping;
    this.pending = false;
    return fallBack;
  }
};
function createSession(version, auto, base, v1Base, attempt, random, log) {
  if (version === 1) return newIkev1Session(v1Base, attempt, random, log);
  const retransmit = auto ? retransmitPolicyFor(Math.min(6e3, totalWait(base.retransmit) / 3)) : base.retransmit;
  return new IkeSession(
    { ...base, retransmit, auth: attempt.auth, gatewayAuth: attempt.gatewayAuth },
    random,
    log
  );
}

// src/client/reconnect.ts
var Reconnector = class {
  attempts = 0;
  /** The session is being closed to start a new one at once (reauthentication, IKEv1 roaming). */
  restartReason;
  /** The last attempt found no route to the gateway (the network is gone). */
  waitingForRoute = false;
  /** Until when a failed liveness check counts as the one started by a wake. */
  wakeCheckUntil = -Infinity;
  host;
  constructor(host) {
    this.host = host;
  }
  /**
   * RFC 4478: the gateway gave the IKE SA an authentication lifetime. Before it runs out we
   * reauthenticate: close the IKE SA and negotiate a new one with a full IKE_AUTH, keeping the
   * TUN device, routes and DNS (break-before-make, strongSwan 5.9's default).
   */
  scheduleReauth(lifetimeS) {
    const host = this.host;
    host.timers.clear("reauth");
    if (lifetimeS === void 0 || lifetimeS <= 0) return;
    const ms = Math.max(1e3, lifetimeS * 1e3 * (0.85 + 0.05 * Math.random()));
    host.timers.set("reauth", ms, () => {
      if (host.state() !== "up" || !host.session()) return;
      host.log.info(
        "ike",
        `reauthenticating: the gateway's AUTH_LIFETIME of ${lifetimeS} s is ending`
      );
      this.restartAfterClose("reauthentication (RFC 4478)");
    });
  }
  /**
   * Closes the IKE SA (DELETE) and negotiates a new one at once, keeping the host configured
   * (break-before-make): reauthentication, or an IKEv1 tunnel whose network changed (IKEv1 has
   * no MOBIKE to move the SAs).
   */
  restartAfterClose(reason) {
    this.restartReason = reason;
    this.host.feed({ kind: "close" });
  }
  /** The IKE session closed (not for a redirect): reauthenticate, reconnect or tear down. */
  onSessionClosed(error, byPeer) {
    const host = this.host;
    const reason = this.restartReason;
    this.restartReason = void 0;
    if (reason !== void 0 && !host.userClosing()) {
      host.setState("reconnecting");
      host.emit({ type: "reconnecting", attempt: 0, inMs: 0, reason });
      void this.restartSession();
      return;
    }
    const retry = host.opts.retry ?? 3;
    const retriable = error !== void 0 && (host.state() === "reconnecting" || error.code === "ERR_IKE_TIMEOUT" || error.code === "ERR_IKE_DELETED" || error.code === "ERR_IKE_PEER_ERROR");
    if (host.userClosing() || !host.wasUp() || !retriable || host.pendingError() !== void 0 || retry !== "forever" && this.attempts >= retry) {
      host.teardown(error, byPeer);
      return;
    }
    this.attempts++;
    const inMs = this.attempts === 1 && host.io.now() <= this.wakeCheckUntil ? 0 : Math.min(3e4, 1e3 * Math.pow(2, this.attempts - 1));
    host.setState("reconnecting");
    host.emit({
      type: "reconnecting",
      attempt: this.attempts,
      inMs,
      reason: error.message
    });
    host.timers.set("reconnect", inMs, () => void this.restartSession());
    if (this.waitingForRoute) this.watchRoute();
  }
  /**
   * No route to the gateway (Wi-Fi out of range, a cable pulled, minutes without a network):
   * rather than wait out a backoff of up to 30 s once it is back, look every 2 s and reconnect
   * as soon as the kernel has a route again.
   */
  watchRoute() {
    const host = this.host;
    const remote = host.remote();
    if (!remote) return;
    host.timers.set("route", 2e3, () => {
      if (host.state() !== "reconnecting" || !host.timers.has("reconnect")) return;
      host.io.localAddressFor(remote).then(
        () => {
          if (host.state() !== "reconnecting" || !host.timers.has("reconnect")) return;
          host.log.info("net", "a route to the gateway is back: reconnecting now");
          host.timers.set("reconnect", 0, () => void this.restartSession());
        },
        () => this.watchRoute()
      );
    });
  }
  /**
   * The timers fired `sleptMs` late (./io.ts LateTimerWatch): the host slept or we were stopped.
   * Meanwhile the gateway may have run out its DPD or lifetimes and forgotten the IKE SA, so
   * the tunnel checks at once (one request with a short budget, RFC 7296 §2.4) rather than
   * trusting a stale retransmission schedule; a pending reconnect runs now.
   */
  onWake(sleptMs) {
    const host = this.host;
    host.emit({ type: "wake", sleptMs });
    const session = host.session();
    if (host.state() === "up" && session && session.state === "established") {
      const budgetMs = Math.min(host.opts.wakeCheckMs ?? 3e3, session.totalTimeoutMs());
      this.wakeCheckUntil = host.io.now() + budgetMs + 1e3;
      host.feed({ kind: "wake", sleptMs, budgetMs });
    } else if (host.state() === "reconnecting" && host.timers.has("reconnect")) {
      host.timers.set("reconnect", 0, () => void this.restartSession());
    }
  }
  async restartSession() {
    const host = this.host;
    const remote = host.remote();
    if (!remote || !host.canStart() || host.state() !== "reconnecting") return;
    let local;
    try {
      local = await host.io.localAddressFor(remote);
      this.waitingForRoute = false;
    } catch (e) {
      this.waitingForRoute = true;
      this.onSessionClosed(
        e instanceof VpnError ? new VpnError("ERR_IKE_TIMEOUT", e.message) : void 0,
        false
      );
      return;
    }
    host.startSession(local);
  }
  /**
   * The retry budget (`--retry`) is given back only once the tunnel has stayed up for
   * `stableMs` (default 60 s, two DPD intervals): a gateway that accepts every new IKE SA and
   * then deletes it (or a path that dies right after each handshake) runs the budget out
   * instead of reconnecting forever.
   */
  scheduleStable() {
    const host = this.host;
    const ms = host.opts.stableMs ?? 6e4;
    host.timers.set("stable", ms, () => {
      if (host.state() !== "up") return;
      if (this.attempts > 0)
        host.log.debug("ike", `up for ${ms / 1e3} s: reconnect attempts count from zero again`);
      this.attempts = 0;
    });
  }
};

// src/client/liveness.ts
var UpTimers = class {
  host;
  /** When we last sent anything to the gateway (IKE or a keepalive). */
  lastSentAt = 0;
  keepalivesSent = 0;
  constructor(host) {
    this.host = host;
  }
  /**
   * Watches the network under the tunnel (a laptop moving from Wi-Fi to Ethernet, a default route
   * moved to a second uplink): when the host's default route changes, our pinned route to the
   * gateway follows it, and a new source address goes to the IKE session, which moves the SAs
   * with MOBIKE (RFC 4555 §3.5) or reconnects.
   */
  schedulePathCheck() {
    const host = this.host;
    const interval = host.opts.pathCheckMs ?? 1e3;
    host.timers.clear("path");
    if (interval <= 0) return;
    const tick = () => {
      void this.checkPath().finally(() => {
        if (host.state() === "up" && !host.timers.has("path"))
          host.timers.set("path", interval, tick);
      });
    };
    host.timers.set("path", interval, tick);
  }
  pathChecking = false;
  async checkPath() {
    const host = this.host;
    const session = host.session();
    const netcfg = host.netcfg();
    const dp = host.dp();
    if (!session || !netcfg || !dp || host.state() !== "up" || this.pathChecking) return;
    this.pathChecking = true;
    try {
      const gw = session.remoteEndpoint;
      const pinned = netcfg.pinnedPath(gw.address);
      if (pinned) {
        const under = await netcfg.defaultPath(gw.address.includes(":"), host.tunName());
        if (under && (under.dev !== pinned.dev || under.via !== pinned.via)) {
          host.log.info(
            "net",
            `default route moved to ${under.via ?? "link"} dev ${under.dev}: following it`
          );
          await netcfg.repinHostRoute(gw.address, under);
        }
      }
      let local;
      try {
        local = await host.io.localAddressFor(gw);
      } catch {
        return;
      }
      if (local !== host.localAddress()) {
        host.setLocalAddress(local);
        host.feed({ kind: "localAddress", local: { address: local, port: dp.localPort } });
      }
    } catch (e) {
      host.log.warn("net", `checking the network path failed: ${e.message}`);
    } finally {
      this.pathChecking = false;
    }
  }
  scheduleKeepalive() {
    const host = this.host;
    const interval = host.opts.keepaliveMs ?? 2e4;
    host.timers.clear("keepalive");
    host.timers.clear("oneway");
    if (interval <= 0) return;
    const tick = () => {
      const session = host.session();
      if (!session || host.state() !== "up") return;
      const now = host.io.now();
      const espOut = host.dp()?.espOutAt(now) ?? 0;
      if (session.isNatHere && now - Math.max(this.lastSentAt, espOut) >= interval - 50) {
        host.dp()?.sendKeepalive(session.remoteEndpoint);
        this.lastSentAt = now;
        this.keepalivesSent++;
      }
      host.timers.set("keepalive", interval, tick);
    };
    host.timers.set("keepalive", interval, tick);
    this.scheduleOneWayCheck(interval);
  }
  lastProbeAt = 0;
  /**
   * One-way traffic: we send ESP but nothing has come back for half a keepalive interval. A NAT
   * that dropped our mapping (and gave us a new port) looks exactly like this; an authenticated
   * IKE message from the new mapping lets the gateway follow (RFC 7296 §2.23, RFC 4555 §3.8), so
   * the session checks now instead of waiting for DPD. Checked every quarter interval and at
   * most once per interval, so traffic recovers within about one keepalive interval.
   */
  scheduleOneWayCheck(interval) {
    const host = this.host;
    const period = Math.max(250, interval / 4);
    const tick = () => {
      const dp = host.dp();
      if (host.state() !== "up" || !dp) return;
      const now = host.io.now();
      if (now - dp.espOutAt(now) < interval / 2 && now - dp.espInAt(now) >= interval / 2 && now - this.lastProbeAt >= interval) {
        this.lastProbeAt = now;
        host.log.debug("net", "outbound traffic without answers: checking the gateway now");
        host.feed({ kind: "probe" });
      }
      host.timers.set("oneway", period, tick);
    };
    host.timers.set("oneway", period, tick);
  }
};

// src/client/redirect.ts
import { isIP as isIP8 } from "node:net";
var Redirects = class {
  pending;
  /** When we followed redirects, for the loop cap (RFC 5685 §7). */
  times = [];
  redirectedFrom;
  /** Between a redirect and the new gateway's IKE_SA_INIT (no session runs then). */
  redirecting = false;
  host;
  constructor(host) {
    this.host = host;
  }
  async follow(gw, during) {
    this.redirecting = true;
    try {
      await this.redirectTo(gw, during);
    } finally {
      this.redirecting = false;
    }
  }
  async redirectTo(gw, during) {
    const host = this.host;
    const from = host.gatewayAddress();
    const now = host.io.now();
    const max = host.opts.maxRedirects ?? 5;
    const windowMs = host.opts.redirectWindowMs ?? 3e5;
    while (this.times.length > 0 && now - this.times[0] > windowMs) this.times.shift();
    if (this.times.length >= max) {
      host.teardown(
        new VpnError(
          "ERR_IKE_PROTOCOL",
          `redirect loop: the gateways redirected us ${max + 1} times within ${Math.round(windowMs / 1e3)} s (the last from ${from} to ${gw.value}); giving up (RFC 5685 §7)`
        )
      );
      return;
    }
    this.times.push(now);
    try {
      const address = gw.kind === "fqdn" ? await host.io.resolve(gw.value) : gw.value;
      if (isIP8(address) === 6 !== (isIP8(from) === 6)) {
        throw new VpnError(
          "ERR_IKE_PROTOCOL",
          `the gateway redirected us to ${gw.value} (${address}), an IPv${isIP8(address)} address; this tunnel's socket is IPv${isIP8(from)}`
        );
      }
      if (host.stopping()) return;
      this.redirectedFrom = from;
      const remote = host.retarget(address, from);
      host.emit({
        type: "redirected",
        from,
        to: address,
        ...gw.kind === "fqdn" ? { name: gw.value } : {},
        during
      });
      if (host.wasUp() || host.opts.killSwitch) await this.pinGatewayRoute(address, from);
      if (host.wasUp()) {
        host.markReconnecting();
        host.emit({
          type: "reconnecting",
          attempt: 0,
          inMs: 0,
          reason: `redirected to ${address}`
        });
      }
      const local = await host.io.localAddressFor(remote);
      if (host.stopping()) return;
      host.startSession(local);
    } catch (e) {
      const err = e instanceof VpnError ? e : new VpnError(
        "ERR_RESOLVE",
        `the gateway redirected us to ${gw.value}, which we cannot reach: ${e.message}`
      );
      host.teardown(err);
    }
  }
  /** A host route to the new gateway along the path of the old one's (or the default path). */
  async pinGatewayRoute(address, old) {
    const netcfg = this.host.netcfg();
    if (!netcfg) return;
    const path = netcfg.pinnedPath(old) ?? await netcfg.defaultPath(address.includes(":"), this.host.tunName());
    if (!path) return;
    await netcfg.addHostRouteVia(address, path.via, path.dev);
  }
};

// src/client/session-config.ts
function parseTunnelConfig(opts2) {
  const wanted = opts2.ikeVersion ?? 2;
  const ikeProposals = wanted === 1 ? [] : applyPqMode(
    parseProposals(opts2.ikeProposals ?? DEFAULT_IKE_PROPOSALS, "ike"),
    opts2.pq ?? "off"
  );
  const espProposals = parseProposals(
    wanted === 1 ? ikev1EspText(opts2) : opts2.espProposals ?? DEFAULT_ESP_PROPOSALS,
    "esp"
  );
  const remoteTs = opts2.remoteNetworks?.length ? opts2.remoteNetworks.map((c) => tsFromCidr(c)) : anyTs(opts2.ip6 === true);
  const remoteId = opts2.remoteId === void 0 ? void 0 : parseIdentity(opts2.remoteId);
  checkCredentials(opts2.credentials, remoteId);
  const retransmit = { ...DEFAULT_RETRANSMIT, ...opts2.retransmit };
  const v1Base = wanted === 2 ? void 0 : ikev1Base(
    opts2,
    { localId: { type: 0, data: new Uint8Array(0) }, ...remoteId ? { remoteId } : {} },
    { local: anyTs(false), remote: remoteTs.filter((t) => t.startAddr.length === 4) },
    retransmit
  );
  const excluded = checkExcluded(opts2.excludeNetworks ?? []);
  if (excluded.length > 0 && opts2.killSwitch)
    throw new VpnError(
      "ERR_CONFIG",
      "--exclude and --kill-switch contradict each other: the kill switch lets nothing out of the tunnel"
    );
  return {
    wanted,
    ikeProposals,
    espProposals,
    remoteTs,
    remoteId,
    retransmit,
    v1Base,
    excluded
  };
}
function ikev2Base(opts2, p, localId) {
  return {
    localId,
    ...p.remoteId ? { remoteId: p.remoteId } : {},
    fragmentSize: opts2.ikeFragmentSize ?? 1280,
    mobike: opts2.mobike !== false,
    ikeProposals: p.ikeProposals,
    espProposals: p.espProposals,
    request: { ip4: true, ip6: opts2.ip6 === true, dns: opts2.dns !== "off" },
    tsLocal: anyTs(opts2.ip6 === true),
    tsRemote: p.remoteTs,
    forceEncap: true,
    retransmit: p.retransmit,
    maxInitRetries: 5,
    replayWindow: 1024,
    dpdDelayMs: opts2.dpdMs ?? 3e4,
    childRekeyMs: opts2.rekeyMs ?? 50 * 60 * 1e3,
    ikeRekeyMs: opts2.ikeRekeyMs ?? 3.5 * 3600 * 1e3,
    ...opts2.ppk ? { ppk: opts2.ppk } : {},
    ...opts2.redirect === false ? { redirect: false } : {},
    ...opts2.pq === "required" ? { pqRequired: true } : {}
  };
}

// src/client/tunnel.ts
var nodeRandom = { bytes: (n) => new Uint8Array(randomBytes4(n)) };
var Tunnel = class {
  opts;
  log;
  io;
  listeners = [];
  /** The IKE session: an IkeSession (IKEv2) or an Ikev1Session, behind one interface. */
  session;
  /** The IKE version the sessions speak now (auto starts with 2 and may settle on 1). */
  version = 2;
  /** `--ike-version auto` while the first IKEv2 attempt runs (./ike-version.ts). */
  auto = new AutoVersion(false);
  v1Base;
  /** Carries ESP (and sends IKE): the JavaScript engine or the native threaded plane. */
  dp;
  tun;
  netcfg;
  timers;
  stateValue = "connecting";
  summary;
  upAt = 0;
  startedAt = 0;
  gatewayAddress = "";
  saInstallErrors = 0;
  tearingDown;
  connectResolve;
  connectReject;
  closedResolve;
  /** Resolves when the tunnel is down and the host is restored; the value is the error, if any. */
  closed;
  constructor(opts2) {
    this.opts = opts2;
    this.io = { ...realIo(), ...opts2.io };
    this.timers = new NamedTimers(this.io.timers, {
      now: () => this.io.now(),
      thresholdMs: opts2.wakeThresholdMs ?? 5e3,
      onLate: (ms) => this.reconnect.onWake(ms)
    });
    this.random = opts2.random ?? nodeRandom;
    this.log = opts2.logger ?? NOOP_LOGGER;
    this.closed = new Promise((resolve) => {
      this.closedResolve = resolve;
    });
    this.reconnect = new Reconnector(this.reconnectHost());
    this.redirects = new Redirects(this.redirectHost());
    this.upTimers = new UpTimers(this.upTimersHost());
  }
  /** The tunnel's state; the data path seals TUN packets only while it is 'up'. */
  get state() {
    return this.stateValue;
  }
  set state(s) {
    this.stateValue = s;
    this.dp?.setCarrying(s === "up");
  }
  on(listener) {
    this.listeners.push(listener);
  }
  emit(e) {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error("cli", `event listener failed: ${err.message}`);
      }
    }
  }
  /**
   * Resolves the gateway, opens the TUN device and socket, runs IKE, installs the CHILD_SA and
   * configures the host. Resolves with a summary once traffic can flow; rejects with a VpnError
   * (host left as it was) otherwise.
   */
  async connect() {
    this.startedAt = this.io.now();
    const opts2 = this.opts;
    const parsed = parseTunnelConfig(opts2);
    const { wanted, espProposals, v1Base } = parsed;
    this.version = wanted === 1 ? 1 : 2;
    this.auto = new AutoVersion(wanted === "auto");
    this.excluded = parsed.excluded;
    try {
      this.emit({ type: "stage", stage: "resolving", detail: opts2.gateway });
      this.gatewayAddress = await this.io.resolve(opts2.gateway);
      const port = opts2.port ?? 500;
      const remote = { address: this.gatewayAddress, port };
      const localAddress = await this.io.localAddressFor(remote);
      this.localAddress = localAddress;
      const localId = opts2.localIdentity ?? parseIdentity(opts2.localId ?? localAddress);
      if (v1Base) this.v1Base = { ...v1Base, localId };
      this.netcfg = this.io.hostNetwork({
        logger: this.log,
        ...opts2.journalPath ? { journalPath: opts2.journalPath } : {}
      });
      const mtu = opts2.mtu ?? await defaultMtu(this.netcfg, remote.address, this.log);
      if (opts2.killSwitch) await installKillSwitch(this.netcfg, remote.address, this.log);
      this.tun = this.io.openTun({
        name: opts2.tunName ?? "vpn%d",
        mtu,
        ...opts2.tunOffload === true && nativeDataPathLikely(opts2.fastPath !== false, espProposals) ? { offload: true } : {}
      });
      this.dp = await openDataPath({
        io: this.io,
        family: isIP9(this.gatewayAddress) === 6 ? 6 : 4,
        tun: this.tun,
        espProposals,
        fastPath: opts2.fastPath !== false,
        limits: {
          ...opts2.rekeyBytes ? { bytes: opts2.rekeyBytes } : {},
          ...opts2.rekeyPackets ? { packets: opts2.rekeyPackets } : {}
        },
        events: {
          onIke: (data, from) => this.onIkeDatagram(data, from),
          onRekeyNeeded: (spi) => this.onRekeyNeeded(spi),
          onFailure: (err) => this.onDataPathFailure(err),
          onSocketError: (err) => this.log.warn("net", `socket error: ${err.message}`)
        },
        log: this.log
      });
      this.sessionConfig = ikev2Base(opts2, parsed, localId);
      this.session = this.newSession();
      const done = new Promise((resolve, reject) => {
        this.connectResolve = resolve;
        this.connectReject = reject;
      });
      this.remote = remote;
      this.feed({
        kind: "start",
        local: { address: localAddress, port: this.dp.localPort },
        remote
      });
      return await done;
    } catch (e) {
      const err = e instanceof VpnError ? e : new VpnError("ERR_CONFIG", e.message, { cause: e });
      await this.teardown(err, false);
      throw err;
    }
  }
  /**
   * The data path cannot carry traffic any more (the TUN device was deleted under us, a data
   * plane thread hit a fatal socket error): tell the gateway and restore the host. ERR_NETCFG:
   * the host's network changed under the tunnel (exit 9), not a missing privilege.
   */
  onDataPathFailure(err) {
    this.log.error("tun", err.message);
    this.closeWithError(new VpnError("ERR_NETCFG", err.message, { cause: err }));
  }
  /** Ends the tunnel with `err`: DELETE to the gateway when the IKE SA lives, then teardown. */
  closeWithError(err) {
    if (this.state === "closing" || this.state === "down") return;
    this.pendingError = err;
    if (this.session && this.session.state !== "closed") {
      this.state = "closing";
      this.feed({ kind: "close" });
    } else void this.teardown(this.pendingError, false);
  }
  /** Sends DELETE, waits briefly for the answer, restores the host. */
  async close() {
    if (this.state === "down") return;
    this.userClosing = true;
    if ((this.state === "reconnecting" || this.redirects.redirecting || this.auto.fallingBack) && (!this.session || this.session.state === "closed")) {
      void this.teardown(void 0, false);
    } else if (this.session && this.state !== "closing") {
      this.state = "closing";
      this.feed({ kind: "close" });
    }
    await this.closed;
  }
  // ---------------------------------------------------------------------------------------------
  // Reconnecting: the IKE SA is gone (dead peer, gateway DELETE or restart) but the host stays
  // configured; a new IKE SA is negotiated with capped exponential backoff.
  sessionConfig;
  /** Our source address towards the gateway, as last told to the IKE session. */
  localAddress = "";
  attemptAuth;
  /**
   * A new IKE session with fresh credentials (a new EAP conversation) for this attempt: an
   * Ikev1Session once the tunnel speaks IKEv1, else an IkeSession.
   */
  newSession() {
    const base = this.sessionConfig;
    this.attemptAuth?.close();
    const attempt = credentialsForAttempt(
      this.opts.credentials,
      this.opts.gateway,
      this.random,
      {
        onResponse: (packet) => this.feed({ kind: "eapResponse", packet }),
        onFailure: (error) => this.feed({ kind: "eapFailed", error })
      },
      this.log,
      base.remoteId
    );
    this.attemptAuth = attempt;
    const { version, auto, v1Base, random, log } = this;
    return createSession(version, auto.pending, base, v1Base, attempt, random, log);
  }
  remote;
  userClosing = false;
  random;
  /** A new IKE session from `local` to `this.remote`; false when there is no data path. */
  startSession(local) {
    const remote = this.remote;
    if (!this.dp || !remote || !this.sessionConfig) return false;
    this.localAddress = local;
    this.session = this.newSession();
    this.feed({ kind: "start", local: { address: local, port: this.dp.localPort }, remote });
    return true;
  }
  /** Reconnecting with backoff, reauthentication, waking up (./reconnect.ts). */
  reconnect;
  reconnectHost() {
    return {
      opts: this.opts,
      io: this.io,
      log: this.log,
      timers: this.timers,
      state: () => this.state,
      setState: (s) => {
        this.state = s;
      },
      session: () => this.session,
      feed: (input) => this.feed(input),
      emit: (e) => this.emit(e),
      teardown: (err, byPeer) => void this.teardown(err, byPeer),
      remote: () => this.remote,
      wasUp: () => this.summary !== void 0,
      userClosing: () => this.userClosing,
      pendingError: () => this.pendingError,
      canStart: () => this.sessionConfig !== void 0 && this.dp !== void 0,
      startSession: (local) => this.startSession(local)
    };
  }
  onSessionClosed(error, byPeer) {
    this.timers.clear("stable");
    if (this.auto.closed(error, this.userClosing || this.pendingError !== void 0))
      return this.fallBackToIkev1(`no answer to IKEv2 from ${this.gatewayAddress}`);
    const redirect = this.redirects.pending;
    this.redirects.pending = void 0;
    if (redirect && !this.userClosing && this.pendingError === void 0) {
      void this.redirects.follow(redirect.gateway, redirect.during);
      return;
    }
    this.reconnect.onSessionClosed(error, byPeer);
  }
  /** RFC 5685 redirects (./redirect.ts). */
  redirects;
  redirectHost() {
    return {
      opts: this.opts,
      io: this.io,
      gatewayAddress: () => this.gatewayAddress,
      wasUp: () => this.summary !== void 0,
      stopping: () => this.stopping(),
      emit: (e) => this.emit(e),
      teardown: (err) => void this.teardown(err, false),
      netcfg: () => this.netcfg,
      tunName: () => this.tun?.name,
      retarget: (address, from) => {
        this.gatewayAddress = address;
        this.remote = { address, port: this.opts.port ?? 500 };
        this.sessionConfig = { ...this.sessionConfig, redirectedFrom: from };
        return this.remote;
      },
      markReconnecting: () => {
        this.state = "reconnecting";
      },
      startSession: (local) => this.startSession(local)
    };
  }
  onIkeDatagram(data, from) {
    const refusal = this.auto.received(data);
    if (refusal !== void 0) return this.fallBackToIkev1(refusal);
    this.feed({ kind: "datagram", data, from });
  }
  /** --ike-version auto: the IKEv2 attempt ends, IKEv1 starts (./ike-version.ts). */
  fallBackToIkev1(reason) {
    this.auto.pending = false;
    this.version = 1;
    this.auto.fallingBack = true;
    this.session = void 0;
    this.log.info("ike", `${reason}: trying IKEv1 (--ike-version auto)`);
    this.emit({ type: "warning", message: `${reason}: trying IKEv1 (--ike-version auto)` });
    this.timers.set("reconnect", 0, () => {
      this.auto.fallingBack = false;
      if (this.stopping()) return;
      for (const t of IKE_TIMERS) this.timers.clear(t);
      this.startSession(this.localAddress);
    });
  }
  /** The user or an error is ending the tunnel (checked again after each await). */
  stopping() {
    return this.userClosing || this.state === "closing" || this.state === "down";
  }
  /** `excludeNetworks`, checked and canonical (core/ip.ts checkExcluded). */
  excluded = [];
  async onReestablished(info) {
    const prev = this.summary;
    const cfg = info.config;
    if (prev && prev.virtualIp4 === cfg.ip4 && prev.virtualIp6 === (cfg.ip6 ? `${cfg.ip6.address}/${cfg.ip6.prefix}` : void 0)) {
      this.state = "up";
      this.startUpTimers();
      this.summary = {
        ...prev,
        ike: { ...info, ...keyExchangesOfText(info.ikeProposal) },
        ...this.gatewayFields()
      };
      this.emit({ type: "up", summary: this.summary });
      return;
    }
    await this.netcfg?.restore();
    await this.configureHost(info);
  }
  /** The gateway we are connected to now (after redirects), for the summary. */
  gatewayFields() {
    return {
      gatewayAddress: this.gatewayAddress,
      ...this.redirects.redirectedFrom ? { redirectedFrom: this.redirects.redirectedFrom } : {}
    };
  }
  status() {
    const s = {
      state: this.state,
      ike: this.session?.counters ?? emptyIkeCounters(),
      esp: this.dp?.counters() ?? { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0 },
      keepalivesSent: this.upTimers.keepalivesSent,
      saInstallErrors: this.saInstallErrors
    };
    if (this.summary) s.summary = this.summary;
    if (this.upAt) s.uptimeMs = this.io.now() - this.upAt;
    if (this.tun) s.tun = this.tun.stats();
    if (this.dp) s.udp = this.dp.udpCounters;
    const dps = this.dp?.dataplaneStats?.();
    if (dps) s.dataplane = dps;
    return s;
  }
  // ---------------------------------------------------------------------------------------------
  feed(input) {
    const session = this.session;
    if (!session) return;
    this.apply(session.handle(input, this.io.now()));
    if (this.dp && this.session === session && session.state === "established")
      this.dp.setPeer(session.remoteEndpoint);
  }
  apply(outputs) {
    for (const o of outputs) {
      switch (o.kind) {
        case "send":
          this.auto.sent(o.data);
          this.upTimers.lastSentAt = this.io.now();
          this.dp?.sendIke(o.data, o.to, o.nonEspMarker);
          break;
        case "setTimer":
          this.timers.set(o.timer, o.at - this.io.now(), () => {
            const espIn = this.dp?.espInAt(this.io.now()) ?? 0;
            if (o.timer === "dpd" && espIn > 0) this.feed({ kind: "activity", at: espIn });
            this.feed({ kind: "timer", timer: o.timer });
          });
          break;
        case "clearTimer":
          this.timers.clear(o.timer);
          break;
        case "installChild":
          this.installChild(o.child);
          break;
        case "removeChild":
          this.dp?.removeChild(o.inboundSpi, o.outboundSpi);
          break;
        case "event":
          this.onIkeEvent(o.event);
          break;
      }
    }
  }
  /**
   * Installs a negotiated CHILD_SA on the data path. A refusal (a ninth inbound SA from a gateway
   * that rekeys without deleting, an SA the data path cannot build) never escapes: it is counted
   * and the tunnel ends cleanly with a clear error (DELETE to the gateway, host restored).
   */
  installChild(child) {
    const dp = this.dp;
    if (!dp) return;
    this.childTsRemote = child.tsRemote;
    const policy = { local: child.tsLocal.map(toRange), remote: child.tsRemote.map(toRange) };
    if (this.session) dp.setPeer(this.session.remoteEndpoint);
    try {
      dp.installChild(child.inbound, child.outbound, policy);
    } catch (e) {
      this.saInstallErrors++;
      const spi = (child.inbound.spi >>> 0).toString(16).padStart(8, "0");
      const err = new VpnError(
        "ERR_IKE_PROTOCOL",
        `the data path refused CHILD_SA ${spi} (${e.message}); closing the tunnel`,
        { cause: e }
      );
      this.log.error("esp", err.message);
      this.timers.set("close", 0, () => this.closeWithError(err));
    }
  }
  onIkeEvent(e) {
    switch (e.type) {
      case "stage":
        this.emit({
          type: "stage",
          stage: this.version === 1 ? v1Stage(e.stage, this.opts) : e.stage
        });
        break;
      case "nat":
        this.emit({ type: "nat", natHere: e.natHere, natThere: e.natThere });
        break;
      case "established":
        if (this.sessionConfig?.redirectedFrom !== void 0) {
          const rest = { ...this.sessionConfig };
          delete rest.redirectedFrom;
          this.sessionConfig = rest;
        }
        if (this.summary) void this.onReestablished(e.info);
        else void this.configureHost(e.info);
        this.reconnect.scheduleReauth(e.info.authLifetimeS);
        break;
      case "closed":
        this.onSessionClosed(e.error, e.byPeer);
        break;
      case "rekeyed":
        this.emit({ type: "rekeyed", what: e.what, by: e.by, proposal: e.proposal });
        break;
      case "roamed":
        this.emit({
          type: "roamed",
          local: e.local.address,
          remote: `${e.remote.address}:${e.remote.port}`,
          by: e.by
        });
        break;
      case "warning":
        this.emit({ type: "warning", message: e.message });
        break;
      case "redirect":
        this.redirects.pending = { gateway: e.gateway, during: e.during };
        break;
      case "state":
      case "liveness-check":
        break;
    }
  }
  async configureHost(info) {
    const tun = this.tun;
    const netcfg = this.netcfg;
    if (!tun || !netcfg || !this.dp) return;
    this.emit({ type: "stage", stage: "configuring", detail: tun.name });
    try {
      const cfg = info.config;
      await netcfg.setMtu(tun.name, tun.mtu);
      if (cfg.ip4) await netcfg.addAddress(tun.name, `${cfg.ip4}/32`);
      if (cfg.ip6) await netcfg.addAddress(tun.name, `${cfg.ip6.address}/128`);
      await netcfg.setUp(tun.name);
      const session = this.session;
      const split3 = this.version === 1 && !this.opts.remoteNetworks?.length ? splitIncludeSelectors(cfg.subnets, this.childTsRemote) : void 0;
      const plan = planTunnelRoutes(
        split3 ?? this.childTsRemote,
        this.opts.dns === "off" ? [] : [...cfg.dns4, ...cfg.dns6]
      );
      for (const message of plan.warnings) this.emit({ type: "warning", message });
      const { routes, dns } = plan;
      await installRoutes(
        netcfg,
        routes,
        tun.name,
        cfg.ip4,
        session.remoteEndpoint.address,
        this.opts.killSwitch !== true,
        this.excluded
      );
      const fullTunnel = routes.some((r) => r.endsWith("/0"));
      const dnsDone = dns.length > 0 ? await netcfg.setDns(tun.name, dns, cfg.domains, { defaultRoute: fullTunnel }) : void 0;
      this.state = "up";
      this.upAt = this.io.now();
      this.summary = {
        gateway: this.opts.gateway,
        ...this.gatewayFields(),
        device: tun.name,
        mtu: tun.mtu,
        ...cfg.ip4 ? { virtualIp4: cfg.ip4 } : {},
        ...cfg.ip6 ? { virtualIp6: `${cfg.ip6.address}/${cfg.ip6.prefix}` } : {},
        dns,
        domains: this.opts.dns === "off" ? [] : cfg.domains,
        ...dnsDone ? { dnsMethod: dnsDone.method, dnsNote: dnsDone.note } : {},
        routes,
        // RFC 9370 / ML-KEM: name the key exchanges and whether they resist a quantum computer.
        ike: { ...info, ...keyExchangesOfText(info.ikeProposal) },
        ikeVersion: this.version,
        connectMs: this.upAt - this.startedAt,
        espPath: this.dp.espPath
      };
      this.startUpTimers();
      this.emit({ type: "up", summary: this.summary });
      this.connectResolve?.(this.summary);
    } catch (e) {
      const err = e instanceof VpnError ? e : new VpnError("ERR_NETCFG", `configuring ${tun.name} failed: ${e.message}`);
      this.log.error("tun", err.message);
      this.state = "closing";
      this.pendingError = err;
      this.feed({ kind: "close" });
    }
  }
  pendingError;
  childTsRemote = [];
  /**
   * The periodic work of an up tunnel: NAT keepalives, the one-way traffic check, the network
   * path check and the stability timer of the retry budget. (Re)started, never skipped, on every
   * (re)connect: a tick that finds the tunnel down just stops, and its entry is gone with it.
   */
  startUpTimers() {
    this.upTimers.scheduleKeepalive();
    this.upTimers.schedulePathCheck();
    this.reconnect.scheduleStable();
  }
  /** NAT keepalives, the one-way traffic check and the network path check (./liveness.ts). */
  upTimers;
  upTimersHost() {
    return {
      opts: this.opts,
      io: this.io,
      log: this.log,
      timers: this.timers,
      state: () => this.state,
      session: () => this.session,
      dp: () => this.dp,
      netcfg: () => this.netcfg,
      tunName: () => this.tun?.name,
      localAddress: () => this.localAddress,
      setLocalAddress: (a) => {
        this.localAddress = a;
      },
      feed: (input) => {
        if (input.kind === "localAddress" && this.version === 1) {
          this.reconnect.restartAfterClose(
            `our address changed to ${input.local.address}; IKEv1 cannot move its SAs: reconnecting`
          );
          return;
        }
        this.feed(input);
      }
    };
  }
  /** An SA passed a volume or sequence-number limit: rekey its CHILD_SA, once per SA. */
  onRekeyNeeded(spi) {
    if (this.rekeyAsked.has(spi)) return;
    this.rekeyAsked.add(spi);
    this.feed({ kind: "rekeyChild" });
  }
  rekeyAsked = /* @__PURE__ */ new Set();
  async teardown(error, byPeer) {
    if (this.tearingDown) return this.tearingDown;
    const err = error ?? this.pendingError;
    this.tearingDown = (async () => {
      this.state = "closing";
      this.timers.clearAll();
      this.attemptAuth?.close();
      try {
        await this.netcfg?.restore();
      } catch (e) {
        this.log.error("tun", `restoring host configuration failed: ${e.message}`);
      }
      this.dp?.close();
      this.tun?.close();
      this.state = "down";
      this.emit(
        err === void 0 ? { type: "down", byPeer } : { type: "down", error: err, byPeer }
      );
      if (this.connectReject) {
        this.connectReject(
          err ?? new VpnError("ERR_IKE_PROTOCOL", "connection closed before it was up")
        );
      }
      this.connectReject = void 0;
      this.connectResolve = void 0;
      this.closedResolve?.(err);
    })();
    return this.tearingDown;
  }
};

// src/client/control.ts
import { createServer, createConnection } from "node:net";
import { chmodSync as chmodSync2, lstatSync as lstatSync3, unlinkSync as unlinkSync3, existsSync as existsSync4 } from "node:fs";
function controlSocketPath(dir, name) {
  return `${dir}/${name}.sock`;
}
var ControlServer = class _ControlServer {
  server;
  path;
  constructor(server, path) {
    this.server = server;
    this.path = path;
  }
  static async listen(path, handler) {
    ensurePrivateDir(path.slice(0, path.lastIndexOf("/")), "runtime directory");
    if (existsSync4(path)) {
      if (!lstatSync3(path).isSocket()) {
        throw new VpnError("ERR_CONTROL", `${path} is in the way and is not a control socket`);
      }
      if (await isAlive2(path)) {
        throw new VpnError(
          "ERR_CONTROL",
          `a tunnel is already running (control socket ${path}); use "vpn disconnect" first or --name`
        );
      }
      unlinkSync3(path);
    }
    const server = createServer((sock) => {
      let buf = "";
      sock.setEncoding("utf8");
      sock.on("data", (d) => {
        buf += d;
        if (buf.length > 4096) sock.destroy();
        const nl2 = buf.indexOf("\n");
        if (nl2 < 0) return;
        let req3;
        try {
          req3 = JSON.parse(buf.slice(0, nl2));
        } catch {
          sock.end(JSON.stringify({ ok: false, error: "bad request" }) + "\n");
          return;
        }
        handler(req3).then(
          (result) => sock.end(JSON.stringify({ ok: true, result }) + "\n"),
          (e) => sock.end(JSON.stringify({ ok: false, error: e.message }) + "\n")
        );
      });
      sock.on("error", () => void 0);
    });
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
    chmodSync2(path, 384);
    return new _ControlServer(server, path);
  }
  close() {
    this.server.close();
    try {
      unlinkSync3(this.path);
    } catch {
    }
  }
};
async function isAlive2(path) {
  try {
    await request(path, { cmd: "status" }, 1e3);
    return true;
  } catch {
    return false;
  }
}
function request(path, req3, timeoutMs = 15e3) {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new VpnError("ERR_CONTROL", `the tunnel at ${path} did not answer`));
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(JSON.stringify(req3) + "\n"));
    sock.on("data", (d) => buf += d);
    sock.on("end", () => {
      clearTimeout(timer);
      try {
        const r = JSON.parse(buf);
        if (r.ok) resolve(r.result);
        else reject(new VpnError("ERR_CONTROL", r.error));
      } catch {
        reject(new VpnError("ERR_CONTROL", "bad answer from the tunnel"));
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(
        new VpnError(
          "ERR_CONTROL",
          e.code === "ENOENT" || e.code === "ECONNREFUSED" ? "no tunnel is running" : `control socket: ${e.message}`
        )
      );
    });
  });
}
function checkTunnelName(name) {
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name) || name === "." || name === "..") {
    throw new VpnError(
      "ERR_CONFIG",
      `invalid tunnel name ${JSON.stringify(name).slice(0, 40)}: letters, digits, _ . - only`
    );
  }
}
function tunnelJournalPath(name, dir = runtimeDir()) {
  checkTunnelName(name);
  return `${dir}/${name}.journal`;
}
function tunnelSocketPath(name, dir = runtimeDir()) {
  checkTunnelName(name);
  if (existsSync4(dir)) ensureRuntimeDir(dir);
  return controlSocketPath(dir, name);
}
function findLeftovers(name, opts2 = {}) {
  const dir = opts2.dir ?? runtimeDir();
  const journal = tunnelJournalPath(name, dir);
  if (!existsSync4(dir)) return void 0;
  ensureRuntimeDir(dir);
  const j = readJournal(journal, opts2);
  if (!j || j.alive || j.entries.length === 0) return void 0;
  return { journal, changes: j.entries.map(describeEntry) };
}
async function restoreLeftovers(name, opts2 = {}) {
  const left = findLeftovers(name, opts2);
  if (!left) return void 0;
  await NetConfigurator.recover(left.journal, opts2.run ?? defaultRunner, opts2);
  return left;
}

// src/cli/credentials.ts
import { readFileSync as readFileSync3 } from "node:fs";

// src/cli/prompt.ts
function promptSecret(question) {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    stdin.setEncoding("utf8");
    let value = "";
    const done = (err) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "" || ch === "" && value === "")
          return done(new VpnError("ERR_CANCELLED", "cancelled"));
        if (ch === "" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

// src/cli/ikev1-flags.ts
var IKE_VERSIONS = ["1", "2", "auto"];
function pskFileOf(f) {
  return f.pskFile ?? f.groupPskFile;
}
function refuse(message) {
  throw new VpnError("ERR_CONFIG", message);
}
function cliIdentity(text) {
  const m = /^keyid:(.+)$/s.exec(text);
  return m ? `@#${Buffer.from(m[1], "utf8").toString("hex")}` : text;
}
function pfsGroupOf(name) {
  let group;
  try {
    group = parseV1Phase2Proposals(`aes256gcm16-${name}`, {})[0]?.pfsGroup;
  } catch (e) {
    refuse(`--pfs ${name}: ${e.message}`);
  }
  if (group === void 0)
    refuse(`--pfs ${name}: name a Diffie-Hellman group such as ecp256, modp2048 or curve25519`);
  return group;
}
function checkIkeVersionFlags(f, kind) {
  const version = f.ikeVersion ?? "2";
  if (!IKE_VERSIONS.includes(version))
    refuse(`--ike-version ${version}: choose 1, 2 or auto`);
  if (f.pskFile !== void 0 && f.groupPskFile !== void 0)
    refuse("--group-psk-file is another name for --psk-file: give one of them");
  if (f.xauthPasswordFile !== void 0 && f.xauthUser === void 0)
    refuse("--xauth-password-file needs --xauth-user NAME");
  const v1Only = [
    ["--xauth-user", f.xauthUser !== void 0],
    ["--ikev1-aggressive", f.ikev1Aggressive === true],
    ["--ikev1-legacy", f.ikev1Legacy === true],
    ["--pfs", f.pfs !== void 0]
  ];
  for (const [flag, given] of v1Only)
    if (given && version === "2")
      refuse(
        `${flag} is for IKEv1 gateways: add --ike-version 1 (or auto)${flag === "--pfs" ? "; with IKEv2 name the group in --esp, e.g. aes256gcm16-ecp256" : ""}`
      );
  if (version === "2") return;
  const v = version === "1" ? "with --ike-version 1" : "with --ike-version auto (IKEv1 may be used)";
  if (kind === "eap")
    refuse(`EAP is IKEv2 only: ${v}, use --xauth-user for a user name and password`);
  if (f.pq !== void 0 && f.pq !== "off")
    refuse(`--pq ${f.pq} (ML-KEM, RFC 9370) is IKEv2 only: not ${v}`);
  if (f.ppkFile !== void 0) refuse(`--ppk-file (RFC 8784) is IKEv2 only: not ${v}`);
  if (f.ikev1Aggressive && kind !== "psk")
    refuse("--ikev1-aggressive works with a pre-shared key only (--psk-file/--group-psk-file)");
  if (f.ikev1Aggressive && version === "auto")
    refuse("--ikev1-aggressive needs --ike-version 1: auto must not fall back to it silently");
  if (f.pfs !== void 0) pfsGroupOf(f.pfs);
  const both = version === "auto" ? " (with --ike-version auto they must suit IKEv1 and IKEv2)" : "";
  const check2 = (flag, parse) => {
    try {
      parse();
    } catch (e) {
      refuse(`${flag}: ${e.message}${both}`);
    }
  };
  if (f.ike !== void 0) {
    const ike = f.ike;
    check2("--ike", () => parseV1Phase1Proposals(ike, { legacy: f.ikev1Legacy === true }));
    if (version === "auto") check2("--ike", () => parseProposals(ike, "ike"));
  }
  if (f.esp !== void 0) {
    const esp = f.esp;
    check2("--esp", () => parseV1Phase2Proposals(esp, {}));
    if (version === "auto") check2("--esp", () => parseProposals(esp, "esp"));
  }
}
function ikev1Warnings(f) {
  const out = [];
  if (f.ikev1Aggressive)
    out.push(
      "IKEv1 Aggressive Mode sends a hash of the pre-shared key that anyone on the path can take offline and guess the key from; use Main Mode where the gateway allows it"
    );
  if (f.ikev1Legacy) {
    const offered = parseV1Phase1Proposals(f.ike ?? defaultV1Phase1Proposals(true), {
      legacy: true
    });
    out.push(
      offered.some(isLegacyPhase1) ? "--ikev1-legacy: offering 3DES/SHA-1/MODP-1024, which are weak; use them only with a gateway that offers nothing better" : "--ikev1-legacy allows 3DES and MODP-1024, but --ike offers neither: the flag changes nothing"
    );
  }
  return out;
}
function ikeVersionOptions(f, xauthPassword) {
  const version = f.ikeVersion ?? "2";
  if (version === "2") return {};
  const ikev1 = {
    ...f.ikev1Aggressive ? { aggressive: true } : {},
    ...f.ikev1Legacy ? { legacy: true } : {},
    ...f.pfs !== void 0 ? { pfsGroup: pfsGroupOf(f.pfs) } : {},
    ...f.xauthUser !== void 0 ? {
      xauth: {
        user: f.xauthUser,
        password: new TextEncoder().encode(xauthPassword ?? "")
      }
    } : {}
  };
  return { ikeVersion: version === "1" ? 1 : "auto", ikev1 };
}

// src/cli/credentials.ts
var EAP_METHODS = ["mschapv2", "md5", "gtc", "tls"];
function authKind(flags) {
  if (flags.eapIdentity !== void 0 || flags.eap !== void 0) return "eap";
  if (flags.cert !== void 0 || flags.p12 !== void 0) return "cert";
  return "psk";
}
function eapMethods(flags) {
  if (flags.eap === void 0) return [...EAP_METHODS];
  const out = [];
  for (const m of flags.eap.split(",").map((s) => s.trim().toLowerCase())) {
    const name = m.replace(/^eap-/, "");
    if (!EAP_METHODS.includes(name))
      throw new VpnError(
        "ERR_CONFIG",
        `unknown EAP method "${m}": choose from ${EAP_METHODS.join(", ")}`
      );
    out.push(name);
  }
  if (out.length === 0) throw new VpnError("ERR_CONFIG", "--eap needs at least one method");
  return out;
}
function checkAuthFlags(flags) {
  const kind = authKind(flags);
  if (flags.cert !== void 0 && flags.p12 !== void 0)
    throw new VpnError("ERR_CONFIG", "use either --cert/--key or --p12, not both");
  if (flags.cert !== void 0 && flags.key === void 0)
    throw new VpnError("ERR_CONFIG", "--cert needs --key (the certificate's private key)");
  if (flags.key !== void 0 && flags.cert === void 0)
    throw new VpnError("ERR_CONFIG", "--key needs --cert");
  if (kind !== "psk" && pskFileOf(flags) !== void 0)
    throw new VpnError(
      "ERR_CONFIG",
      `${flags.groupPskFile !== void 0 ? "--group-psk-file" : "--psk-file"} cannot be combined with certificate or EAP authentication`
    );
  if (kind === "eap") {
    if (flags.eapIdentity === void 0)
      throw new VpnError("ERR_CONFIG", "--eap needs --eap-identity NAME");
    const methods = eapMethods(flags);
    if (methods.length === 1 && methods[0] === "tls" && flags.cert === void 0 && flags.p12 === void 0)
      throw new VpnError("ERR_CONFIG", "EAP-TLS needs a client certificate: --cert/--key or --p12");
  }
  if (flags.eapOnly && kind !== "eap")
    throw new VpnError("ERR_CONFIG", "--eap-only applies to EAP authentication only");
  if (flags.ppkFile === void 0 !== (flags.ppkId === void 0))
    throw new VpnError(
      "ERR_CONFIG",
      "--ppk-file and --ppk-id go together: the post-quantum preshared key and the ID the gateway knows it by"
    );
  if (flags.ppkRequired && flags.ppkFile === void 0)
    throw new VpnError("ERR_CONFIG", "--ppk-required needs --ppk-file and --ppk-id");
  if (flags.ppkFile !== void 0 && kind === "eap")
    throw new VpnError(
      "ERR_CONFIG",
      "--ppk-file works with a pre-shared key or certificate authentication; RFC 8784 with EAP is not implemented"
    );
  if (flags.ppkId !== void 0) ppkIdBytes(flags.ppkId);
  checkIkeVersionFlags(flags, kind);
}
function ppkIdBytes(id) {
  const b = new TextEncoder().encode(id);
  if (b.length < 1 || b.length > MAX_PPK_ID_BYTES)
    throw new VpnError("ERR_CONFIG", `--ppk-id must be 1 to ${MAX_PPK_ID_BYTES} bytes`);
  return b;
}
async function secretFrom(file, env, what, prompt, interactive, fromProfile) {
  if (file !== void 0) return readSecretFile(file, `${what} file`);
  const v = process.env[env];
  if (v !== void 0 && v !== "") return v;
  if (fromProfile !== void 0) return fromProfile;
  if (prompt !== void 0 && interactive) {
    const s = await promptSecret(prompt);
    if (s === "") throw new VpnError("ERR_CONFIG", `empty ${what}`);
    return s;
  }
  return void 0;
}
function isEncryptedKeyFile(path) {
  try {
    const text = readFileSync3(path, "latin1");
    return /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text);
  } catch {
    return false;
  }
}
async function gatherSecrets(flags, interactive, fromProfile = {}) {
  checkAuthFlags(flags);
  const kind = authKind(flags);
  const s = {};
  if (kind === "psk") {
    const pskFile = pskFileOf(flags);
    if (pskFile !== void 0) {
      s.psk = Buffer.from(readSecretFile2(pskFile, "PSK")).toString("base64");
    } else {
      const psk = await secretFrom(
        void 0,
        "VPN_PSK",
        "PSK",
        "Pre-shared key: ",
        interactive,
        fromProfile.psk
      );
      if (psk === void 0)
        throw new VpnError(
          "ERR_CONFIG",
          "no pre-shared key: use --psk-file PATH (mode 600) or the VPN_PSK environment variable (or a certificate: --cert/--key, or EAP: --eap-identity)"
        );
      s.psk = Buffer.from(psk, "utf8").toString("base64");
    }
  }
  if (flags.ppkFile !== void 0) {
    const ppk = readSecretFile2(flags.ppkFile, "PPK");
    if (ppk.length < MIN_PPK_BYTES || ppk.length > MAX_PPK_BYTES)
      throw new VpnError(
        "ERR_CONFIG",
        `the PPK in ${flags.ppkFile} has ${ppk.length} bytes; RFC 8784 §3 wants at least ${MIN_PPK_BYTES} (256 bits of entropy are recommended), at most ${MAX_PPK_BYTES} here`
      );
    s.ppk = Buffer.from(ppk).toString("base64");
  }
  if (kind === "eap" && eapMethods(flags).some((m) => m !== "tls")) {
    const pw = await secretFrom(
      flags.eapPasswordFile,
      "VPN_EAP_PASSWORD",
      "EAP password",
      `EAP password for ${flags.eapIdentity ?? ""}: `,
      interactive,
      fromProfile.eapPassword
    );
    if (pw !== void 0) s.eapPassword = pw;
    else if (!eapMethods(flags).includes("tls"))
      throw new VpnError(
        "ERR_CONFIG",
        "no EAP password: use --eap-password-file PATH (mode 600) or VPN_EAP_PASSWORD, or run in a terminal to be asked"
      );
  }
  if (flags.xauthUser !== void 0) {
    const pw = await secretFrom(
      flags.xauthPasswordFile,
      "VPN_XAUTH_PASSWORD",
      "XAUTH password",
      `XAUTH password for ${flags.xauthUser}: `,
      interactive,
      fromProfile.xauthPassword
    );
    if (pw === void 0)
      throw new VpnError(
        "ERR_CONFIG",
        "no XAUTH password: use --xauth-password-file PATH (mode 600) or VPN_XAUTH_PASSWORD, or run in a terminal to be asked"
      );
    s.xauthPassword = pw;
  }
  if (flags.key !== void 0 && isEncryptedKeyFile(flags.key)) {
    const pw = await secretFrom(
      flags.keyPassphraseFile,
      "VPN_KEY_PASSPHRASE",
      "key passphrase",
      `Passphrase for ${flags.key}: `,
      interactive,
      fromProfile.keyPassphrase
    );
    if (pw !== void 0) s.keyPassphrase = pw;
  }
  if (flags.p12 !== void 0) {
    const pw = await secretFrom(
      flags.p12PasswordFile,
      "VPN_P12_PASSWORD",
      "PKCS#12 password",
      `Password for ${flags.p12}: `,
      interactive,
      fromProfile.p12Password
    );
    s.p12Password = pw ?? "";
  }
  return s;
}
function buildCredentials(flags, secrets) {
  checkAuthFlags(flags);
  const kind = authKind(flags);
  let certKey;
  if (flags.cert !== void 0 && flags.key !== void 0) {
    const certs = loadCertificates(flags.cert);
    const key = loadPrivateKey(flags.key, () => secrets.keyPassphrase);
    checkKeyMatchesCert(key, certs[0], flags.key, flags.cert);
    certKey = { key, certs };
  } else if (flags.p12 !== void 0) {
    certKey = loadPkcs12(flags.p12, secrets.p12Password ?? "");
  }
  let anchors;
  let anchorsSource;
  if (kind !== "psk" || flags.ca !== void 0) {
    const t = loadTrustAnchors(flags.ca);
    anchors = t.certs;
    anchorsSource = t.source;
  }
  let auth;
  let defaultId;
  switch (kind) {
    case "psk":
      auth = { kind: "psk", psk: new Uint8Array(Buffer.from(secrets.psk ?? "", "base64")) };
      break;
    case "cert": {
      if (!certKey) throw new VpnError("ERR_CONFIG", "no client certificate");
      auth = { kind: "cert", key: certKey.key, certs: certKey.certs };
      defaultId = {
        type: IdType.DER_ASN1_DN,
        data: Certificate.fromDer(certKey.certs[0]).subjectDer
      };
      break;
    }
    case "eap": {
      const identity = flags.eapIdentity ?? "";
      defaultId = parseIdentity(identity);
      auth = {
        kind: "eap",
        identity,
        methods: eapMethods(flags),
        ...secrets.eapPassword !== void 0 ? { password: new TextEncoder().encode(secrets.eapPassword) } : {},
        ...certKey ? { tlsKey: certKey.key, tlsCerts: certKey.certs } : {}
      };
      break;
    }
  }
  const credentials = {
    auth,
    ...anchors ? { anchors } : {},
    ...flags.hostCheck ? {} : { gatewayName: false },
    ...flags.eapOnly ? { eapOnly: true } : {}
  };
  return {
    credentials,
    ...defaultId ? { defaultId } : {},
    ...anchorsSource !== void 0 ? { anchorsSource } : {}
  };
}

// src/cli/connect-options.ts
function intArg(min, max) {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}
function sizeArg(v) {
  const m = /^(\d+)([KMGT]?)B?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError("a byte count such as 1000000, 500M or 4G");
  const mult = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase()];
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("out of range");
  return n;
}
function collect(v, prev) {
  return [...prev ?? [], v];
}
function addConnectOptions(cmd) {
  return cmd.option("--profile <name>", "read the settings from profile NAME.conf (flags given here win)").option(
    "--id <id>",
    "our IKE identity (IDi): user@example.com, @host, an IP, or keyid:GROUP (a Cisco group name); default: our IP"
  ).option("--remote-id <id>", "gateway's expected identity (IDr), e.g. @gw.example.com").option(
    "--psk-file <path>",
    "file holding the pre-shared key (must not be readable by others); or set VPN_PSK"
  ).option(
    "--group-psk-file <path>",
    'the same as --psk-file: the group PSK ("group password") of a Cisco-style IKEv1 gateway'
  ).addOption(
    new Option(
      "--ike-version <v>",
      "IKE version: 2, 1 (IKEv1), or auto (IKEv2, then IKEv1 when the gateway does not answer or refuses IKEv2)"
    ).choices(IKE_VERSIONS).default("2")
  ).option("--xauth-user <name>", "IKEv1: authenticate with XAUTH as this user after Phase 1").option(
    "--xauth-password-file <path>",
    "IKEv1: the XAUTH password (mode 600); or set VPN_XAUTH_PASSWORD, or answer the prompt"
  ).option(
    "--ikev1-aggressive",
    "IKEv1 Aggressive Mode (PSK only): exposes a hash of the PSK to offline guessing"
  ).option("--ikev1-legacy", "IKEv1: also allow 3DES, SHA-1 and MODP-1024 in Phase 1 (weak)").option(
    "--pfs <group>",
    "IKEv1 Quick Mode PFS with this group, e.g. ecp256, modp2048, curve25519 (IKEv2: put it in --esp)"
  ).option(
    "--ppk-file <path>",
    "post-quantum preshared key (RFC 8784) in a file not readable by others; needs --ppk-id"
  ).option("--ppk-id <id>", "the ID the gateway knows the PPK by (PPK_IDENTITY)").option(
    "--ppk-required",
    "fail (exit 4) unless the gateway uses the PPK; default: go on without it, with a warning"
  ).option(
    "--no-redirect",
    "refuse gateway redirects (RFC 5685) and do not announce support for them"
  ).option(
    "--ca <file|dir>",
    "CA certificate(s) that vouch for the gateway's certificate (PEM/DER file or folder); default: the system store"
  ).option("--cert <file>", "our certificate (PEM/DER; intermediates may follow in the file)").option(
    "--key <file>",
    "private key of --cert (PEM/DER, PKCS#8 or PKCS#1/SEC1; may be encrypted)"
  ).option(
    "--key-passphrase-file <path>",
    "passphrase of an encrypted --key; or set VPN_KEY_PASSPHRASE, or answer the prompt"
  ).option("--p12 <file>", "our certificate and key as PKCS#12 (instead of --cert/--key)").option(
    "--p12-password-file <path>",
    "password of --p12; or set VPN_P12_PASSWORD, or answer the prompt"
  ).option("--eap-identity <name>", "authenticate with EAP as this user").option(
    "--eap <methods>",
    "EAP methods we accept, comma-separated: mschapv2,md5,gtc,tls (default: all)"
  ).option(
    "--eap-password-file <path>",
    "EAP password; or set VPN_EAP_PASSWORD, or answer the prompt"
  ).option(
    "--eap-only",
    "accept a gateway that proves itself only through EAP-TLS (RFC 5998), without AUTH: password methods are never used with it"
  ).option(
    "--no-host-check",
    "do not require the gateway's certificate to name the host we dialled; needs --remote-id, the identity it must carry instead"
  ).addOption(
    new Option(
      "--ike-fragment-size <bytes>",
      "largest IKE datagram before IKE fragmentation (RFC 7383)"
    ).default(1280).argParser(intArg(576, 65535))
  ).addOption(
    new Option("--port <n>", "gateway IKE port").default(500).argParser(intArg(1, 65535))
  ).option(
    "--ike <proposals>",
    "IKE proposals in strongSwan syntax, e.g. aes256gcm16-prfsha256-x25519"
  ).option(
    "--esp <proposals>",
    "ESP proposals in strongSwan syntax, e.g. aes256gcm16,chacha20poly1305"
  ).addOption(
    new Option(
      "--pq <mode>",
      "post-quantum key exchange (ML-KEM with RFC 9370): required (refuse a gateway without it), preferred (offer it first), off"
    ).choices(["required", "preferred", "off"]).default("off")
  ).addOption(
    new Option("--dns <mode>", "use the DNS servers the gateway assigns").choices(["auto", "off"]).default("auto")
  ).option(
    "--remote-net <cidr>",
    "network to route through the tunnel (repeatable; default: all)",
    collect
  ).option(
    "--exclude <cidr>",
    "network kept on its usual path even where the tunnel routes cover it (repeatable; not with --kill-switch)",
    collect
  ).option("--no-ipv6", "do not ask for an IPv6 address, IPv6 DNS or IPv6 traffic selectors").addOption(new Option("--mtu <n>", "TUN device MTU").argParser(intArg(576, 9e3))).addOption(
    new Option("--keepalive <seconds>", "NAT-T keepalive interval (0 = off)").default(20).argParser(intArg(0, 3600))
  ).addOption(
    new Option(
      "--retry <n|forever>",
      "reconnect attempts after the connection is lost (0 = exit)"
    ).default(3).argParser((v) => {
      if (v === "forever") return "forever";
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 1e3)
        throw new InvalidArgumentError('a number or "forever"');
      return n;
    })
  ).addOption(
    new Option(
      "--ike-rekey <seconds>",
      "rekey the IKE SA after this long (0 = leave it to the gateway)"
    ).default(12600).argParser(intArg(0, 30 * 86400))
  ).addOption(
    new Option(
      "--rekey <seconds>",
      "rekey the CHILD_SA after this long (0 = leave it to the gateway)"
    ).default(3e3).argParser(intArg(0, 7 * 86400))
  ).addOption(
    new Option(
      "--rekey-bytes <n>",
      "also rekey the CHILD_SA after this much traffic in either direction (e.g. 500M, 4G)"
    ).argParser(sizeArg)
  ).addOption(
    new Option(
      "--rekey-packets <n>",
      "also rekey the CHILD_SA after this many packets in either direction"
    ).argParser(intArg(1, 2 ** 32 - 1))
  ).addOption(
    new Option(
      "--dpd <seconds>",
      "check the gateway is alive after this long without traffic (0 = off)"
    ).default(30).argParser(intArg(0, 3600))
  ).addOption(
    new Option("--timeout <seconds>", "give up connecting after this long").default(30).argParser(intArg(1, 600))
  ).addOption(
    new Option("--name <name>", "tunnel name for status/disconnect").default("default").argParser((v) => {
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(v))
        throw new InvalidArgumentError("letters, digits, _ . - only");
      return v;
    })
  ).option(
    "--kill-switch",
    "block all traffic that does not go through the tunnel, from connecting until vpn exits"
  ).option(
    "--socks5 <[addr:]port>",
    "proxy mode: no TUN device, route or DNS change, no root; serve SOCKS5 on ADDR:PORT (default address 127.0.0.1) through the tunnel (needs ocproxy)"
  ).addOption(
    new Option(
      "--http-proxy <addr:port>",
      "not available: ocproxy serves SOCKS5 only"
    ).hideHelp()
  );
}
function tunnelOptions(gateway, flags, secrets, ui) {
  const { credentials, defaultId, anchorsSource } = buildCredentials(flags, secrets);
  if (anchorsSource !== void 0) ui.logger().debug("ike", `trusted CAs: ${anchorsSource}`);
  for (const message of ikev1Warnings(flags)) ui.onEvent({ type: "warning", message });
  return {
    gateway,
    port: flags.port,
    credentials,
    ikeFragmentSize: flags.ikeFragmentSize,
    // VPN_FAST_PATH=0 forces the JavaScript ESP path (for comparisons and as a fallback).
    fastPath: process.env["VPN_FAST_PATH"] !== "0",
    // TUN offloads (TSO/USO split, GRO in the native data plane): on unless VPN_TUN_OFFLOAD=0.
    tunOffload: process.env["VPN_TUN_OFFLOAD"] !== "0",
    ...flags.killSwitch ? { killSwitch: true } : {},
    ...flags.rekeyBytes !== void 0 ? { rekeyBytes: flags.rekeyBytes } : {},
    ...flags.rekeyPackets !== void 0 ? { rekeyPackets: flags.rekeyPackets } : {},
    ...defaultId && !flags.id ? { localIdentity: defaultId } : {},
    dns: flags.dns,
    pq: flags.pq,
    keepaliveMs: flags.keepalive * 1e3,
    dpdMs: flags.dpd * 1e3,
    rekeyMs: flags.rekey * 1e3,
    ikeRekeyMs: flags.ikeRekey * 1e3,
    retry: flags.retry,
    retransmit: retransmitPolicyFor(flags.timeout * 1e3),
    journalPath: `${runtimeDir()}/${flags.name}.journal`,
    logger: ui.logger(),
    ...flags.id ? { localId: cliIdentity(flags.id) } : {},
    ...flags.remoteId ? { remoteId: cliIdentity(flags.remoteId) } : {},
    ...flags.ike ? { ikeProposals: flags.ike } : {},
    ...flags.esp ? { espProposals: flags.esp } : {},
    ...flags.mtu ? { mtu: flags.mtu } : {},
    ...flags.remoteNet ? { remoteNetworks: flags.remoteNet } : {},
    ...flags.exclude?.length ? { excludeNetworks: flags.exclude } : {},
    ip6: flags.ipv6,
    ...!flags.redirect ? { redirect: false } : {},
    ...ikeVersionOptions(flags, secrets.xauthPassword),
    ...secrets.ppk !== void 0 && flags.ppkId !== void 0 ? {
      ppk: {
        id: ppkIdBytes(flags.ppkId),
        key: new Uint8Array(Buffer.from(secrets.ppk, "base64")),
        required: flags.ppkRequired === true
      }
    } : {}
  };
}

// src/cli/exit-codes.ts
var EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  AUTH_FAILED: 4,
  NO_PROPOSAL: 5,
  GATEWAY_REFUSED: 6,
  PROTOCOL: 7,
  PRIVILEGE: 8,
  NETCFG: 9,
  CLOSED_BY_GATEWAY: 10,
  NOT_RUNNING: 11,
  CERTIFICATE: 12,
  CERT_UNTRUSTED: 13,
  CERT_EXPIRED: 14,
  CERT_NAME: 15,
  EAP_FAILED: 16,
  ALREADY_RUNNING: 17,
  /** `--socks5`: ocproxy, the proxy's TCP/IP stack, is not installed (apt-get install ocproxy). */
  PROXY_MISSING: 18,
  /** 128 + the signal number, as shells report a command a signal stopped. */
  HANGUP: 129,
  CANCELLED: 130,
  TERMINATED: 143
};
function exitCodeForSignal(sig) {
  if (sig === "SIGTERM") return EXIT.TERMINATED;
  if (sig === "SIGHUP") return EXIT.HANGUP;
  return EXIT.CANCELLED;
}
function exitCodeFor(code) {
  switch (code) {
    case "ERR_CONFIG":
    case "ERR_ARG":
      return EXIT.USAGE;
    case "ERR_RESOLVE":
    case "ERR_IKE_TIMEOUT":
      return EXIT.UNREACHABLE;
    case "ERR_IKE_AUTH_FAILED":
      return EXIT.AUTH_FAILED;
    case "ERR_EAP_FAILED":
      return EXIT.EAP_FAILED;
    case "ERR_IKE_NO_PROPOSAL":
      return EXIT.NO_PROPOSAL;
    case "ERR_IKE_TS_UNACCEPTABLE":
    case "ERR_IKE_PEER_ERROR":
      return EXIT.GATEWAY_REFUSED;
    case "ERR_IKE_PROTOCOL":
    case "ERR_PARSE":
    case "ERR_CRYPTO":
      return EXIT.PROTOCOL;
    case "ERR_TUN":
    case "ERR_PRIVILEGE":
      return EXIT.PRIVILEGE;
    case "ERR_NETCFG":
    case "ERR_DNS":
      return EXIT.NETCFG;
    case "ERR_IKE_DELETED":
      return EXIT.CLOSED_BY_GATEWAY;
    case "ERR_CONTROL":
      return EXIT.NOT_RUNNING;
    case "ERR_CERT":
      return EXIT.CERTIFICATE;
    case "ERR_CERT_UNTRUSTED":
      return EXIT.CERT_UNTRUSTED;
    case "ERR_CERT_EXPIRED":
      return EXIT.CERT_EXPIRED;
    case "ERR_CERT_NAME":
      return EXIT.CERT_NAME;
    case "ERR_CANCELLED":
      return EXIT.CANCELLED;
    case "ERR_ALREADY_RUNNING":
      return EXIT.ALREADY_RUNNING;
    case "ERR_PROXY_MISSING":
      return EXIT.PROXY_MISSING;
  }
}

// src/cli/flush.ts
function drained(stream) {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  return new Promise((resolve) => {
    try {
      stream.write("", () => resolve());
    } catch {
      resolve();
    }
  });
}
async function flushOutput() {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
}
var exiting = false;
function exitAfterFlush(code) {
  process.exitCode = code;
  if (exiting) return;
  exiting = true;
  void flushOutput().then(() => process.exit(code));
}
function ignoreClosedPipes() {
  for (const s of [process.stdout, process.stderr])
    s.on("error", (e) => {
      if (e.code !== "EPIPE") throw e;
    });
}

// src/cli/hints.ts
function withHint(err, flags) {
  if (err.code !== "ERR_IKE_AUTH_FAILED") return err;
  const at = err.message.indexOf("(AUTHENTICATION_FAILED)");
  if (at < 0) return err;
  const kind = authKind(flags);
  const what = kind === "psk" ? "the pre-shared key" : kind === "cert" ? "our certificate (--cert/--p12)" : "the EAP identity and password";
  const remote = flags.remoteId !== void 0 ? `--remote-id (we asked for "${flags.remoteId}"; the gateway refuses an identity that is not its own)` : "--remote-id (if the gateway expects to be addressed by an identity)";
  const head = err.message.slice(0, at + "(AUTHENTICATION_FAILED)".length);
  const hinted = new VpnError(
    err.code,
    `${head}: check ${what}, --id (our identity) and ${remote}`,
    {
      cause: err
    }
  );
  return hinted;
}

// src/cli/ui.ts
var NO_SPINNER = {
  isSpinning: false,
  text: "",
  start() {
    return this;
  },
  stop() {
    return this;
  },
  succeed() {
    return this;
  },
  fail() {
    return this;
  }
};
var STAGE_TEXT = {
  resolving: "Resolving gateway",
  "ike-sa-init": "IKE_SA_INIT: negotiating keys",
  "ike-auth": "IKE_AUTH: authenticating",
  // IKEv1 (issue 17)
  "main-mode": "Main Mode: negotiating keys and authenticating",
  "aggressive-mode": "Aggressive Mode: negotiating keys and authenticating",
  "quick-mode": "XAUTH, Mode Config and Quick Mode",
  configuring: "Configuring TUN device, routes and DNS"
};
var Ui = class _Ui {
  mode;
  spinner;
  verbose;
  /** The last error shown, so the same failure is not printed twice (event, then exit path). */
  shownError;
  ora;
  constructor(mode, verbose, ora) {
    this.mode = mode;
    this.verbose = verbose;
    this.ora = ora ?? (() => ({ ...NO_SPINNER }));
  }
  /**
   * ora (with chalk and its other dependencies) is loaded only for a terminal: it costs about
   * 11 MB of resident memory that a scripted or background tunnel would carry for days.
   */
  static async create(mode, verbose) {
    const ora = mode === "tty" ? (await import("../chunks/ora-V6CDV3PD.mjs")).default : void 0;
    return new _Ui(mode, verbose, ora);
  }
  /**
   * Every text this class prints goes through printable() (JSON through printableJson()): event
   * fields and error messages carry gateway-chosen strings (identities, certificate subjects).
   */
  json(obj) {
    process.stdout.write(printableJson({ time: (/* @__PURE__ */ new Date()).toISOString(), ...obj }) + "\n");
  }
  line(msg) {
    process.stderr.write(`${(/* @__PURE__ */ new Date()).toISOString()} ${printable(msg)}
`);
  }
  /** One line on stderr, escaped, without a timestamp (terminal mode). */
  say(msg) {
    process.stderr.write(`${printable(msg)}
`);
  }
  onEvent(e) {
    switch (e.type) {
      case "stage": {
        const text = printable(
          `${STAGE_TEXT[e.stage] ?? e.stage}${e.detail ? ` (${e.detail})` : ""}`
        );
        if (this.mode === "json")
          this.json({ event: "stage", stage: e.stage, ...e.detail ? { detail: e.detail } : {} });
        else if (this.mode === "plain") this.line(text);
        else if (this.spinner) {
          this.spinner.succeed();
          this.spinner = this.ora({ text, stream: process.stderr, discardStdin: false }).start();
        } else
          this.spinner = this.ora({ text, stream: process.stderr, discardStdin: false }).start();
        break;
      }
      case "nat": {
        const text = e.natHere ? "NAT detected on our side: using UDP port 4500 and keepalives" : e.natThere ? "NAT detected at the gateway: using UDP port 4500" : "no NAT detected; UDP encapsulation on port 4500";
        if (this.mode === "json")
          this.json({ event: "nat", natHere: e.natHere, natThere: e.natThere });
        else if (this.mode === "plain") this.line(text);
        else if (this.spinner) this.spinner.text = printable(`${this.spinner.text} — ${text}`);
        break;
      }
      case "up":
        this.up(e.summary);
        break;
      case "reconnecting": {
        const text = `connection lost (${e.reason}); reconnecting in ${(e.inMs / 1e3).toFixed(0)} s (attempt ${e.attempt})`;
        if (this.mode === "json") {
          this.json({ event: "reconnecting", attempt: e.attempt, inMs: e.inMs, reason: e.reason });
        } else if (this.mode === "plain") this.line(text);
        else this.say(text);
        break;
      }
      case "wake": {
        const text = `timers ran ${(e.sleptMs / 1e3).toFixed(0)} s late (the host slept or the process was stopped): checking the gateway`;
        if (this.mode === "json") this.json({ event: "wake", sleptMs: e.sleptMs });
        else if (this.mode === "plain") this.line(text);
        else this.say(text);
        break;
      }
      case "redirected": {
        const to = e.name ? `${e.name} (${e.to})` : e.to;
        const text = `the gateway ${e.from} redirected us to ${to} (in ${e.during})`;
        if (this.mode === "json")
          this.json({
            event: "redirected",
            from: e.from,
            to: e.to,
            during: e.during,
            ...e.name ? { name: e.name } : {}
          });
        else if (this.mode === "plain") this.line(text);
        else this.say(text);
        break;
      }
      case "rekeyed": {
        const by = e.by === "us" ? "us" : "the gateway";
        const text = `${e.what === "ike" ? "IKE SA" : "CHILD_SA"} rekeyed by ${by} (${e.proposal})`;
        if (this.mode === "json")
          this.json({ event: "rekeyed", what: e.what, by: e.by, proposal: e.proposal });
        else if (this.verbose || this.mode === "plain") this.line(text);
        break;
      }
      case "roamed": {
        const text = e.by === "us" ? `network changed: tunnel moved to local address ${e.local} (MOBIKE)` : `the gateway moved to ${e.remote} (MOBIKE)`;
        if (this.mode === "json")
          this.json({ event: "roamed", local: e.local, remote: e.remote, by: e.by });
        else this.line(text);
        break;
      }
      case "warning":
        if (this.mode === "json") this.json({ event: "warning", message: e.message });
        else if (this.mode === "plain") this.line(`warning: ${e.message}`);
        else if (this.spinner?.isSpinning) {
          this.spinner.clear();
          process.stderr.write(`warning: ${e.message}
`);
          this.spinner.render();
        } else process.stderr.write(`warning: ${e.message}
`);
        break;
      case "down":
        if (this.mode === "json") {
          this.json({
            event: "down",
            byPeer: e.byPeer,
            ...e.error ? { code: e.error.code, error: e.error.message } : {}
          });
        } else if (e.error) {
          this.fail(e.error.message);
        } else if (this.mode === "plain") {
          this.line("tunnel down; routes and DNS restored");
        } else if (this.spinner?.isSpinning) {
          this.spinner.stop();
        } else {
          process.stderr.write("Disconnected; routes and DNS restored.\n");
        }
        break;
    }
  }
  up(s) {
    if (this.mode === "json") {
      this.json({ event: "up", summary: s });
      return;
    }
    const lines = summaryLines(s);
    if (this.mode === "plain") {
      for (const l of lines) this.line(l);
      return;
    }
    this.spinner?.succeed();
    this.spinner = void 0;
    this.ora({ stream: process.stderr, discardStdin: false }).succeed(
      printable(`Connected to ${s.gateway} in ${(s.connectMs / 1e3).toFixed(2)} s`)
    );
    for (const l of lines.slice(1)) this.say(`  ${l}`);
    process.stderr.write("  Press Ctrl-C to disconnect.\n");
  }
  /** Shows an error; with --json, `exitCode` (the code the command ends with) goes in its line. */
  fail(message, exitCode) {
    if (this.shownError === message) return;
    this.shownError = message;
    if (this.spinner?.isSpinning) this.spinner.fail(printable(message));
    else if (this.mode === "json")
      this.json({
        event: "error",
        error: message,
        ...exitCode !== void 0 ? { exitCode } : {}
      });
    else if (this.mode === "plain") this.line(`error: ${message}`);
    else this.say(`vpn: ${message}`);
    this.spinner = void 0;
  }
  info(message) {
    if (this.mode === "json") this.json({ event: "info", message });
    else if (this.mode === "plain") this.line(message);
    else if (this.spinner?.isSpinning) this.spinner.text = printable(message);
    else this.say(message);
  }
  logger() {
    const write = (level, sub, msg, fields) => {
      if (level !== "error" && !this.verbose) return;
      if (this.mode === "json") {
        this.json({
          event: "log",
          level,
          subsystem: sub,
          message: msg,
          ...fields ? { fields } : {}
        });
        return;
      }
      const text = printable(`[${sub}] ${msg}${fields ? " " + JSON.stringify(fields) : ""}`);
      if (this.spinner?.isSpinning) {
        this.spinner.clear();
        process.stderr.write(text + "\n");
        this.spinner.render();
      } else process.stderr.write(`${(/* @__PURE__ */ new Date()).toISOString()} ${level.padEnd(5)} ${text}
`);
    };
    return {
      debug: (s, m, f) => write("debug", s, m, f),
      info: (s, m, f) => write("info", s, m, f),
      warn: (s, m, f) => write("warn", s, m, f),
      error: (s, m, f) => write("error", s, m, f)
    };
  }
};
function summaryLines(s) {
  const l = [
    `Connected to ${s.gateway} (${s.gatewayAddress}) in ${(s.connectMs / 1e3).toFixed(2)} s`
  ];
  if (s.virtualIp4)
    l.push(
      `Virtual IP:  ${s.virtualIp4}${s.virtualIp6 ? `, ${s.virtualIp6}` : ""} on ${s.device} (MTU ${s.mtu})`
    );
  else if (s.virtualIp6) l.push(`Virtual IP:  ${s.virtualIp6} on ${s.device} (MTU ${s.mtu})`);
  l.push(
    `DNS:         ${s.dns.length ? s.dns.join(", ") : "(unchanged)"}${s.domains.length ? ` ${s.dnsMethod === "systemd-resolved" ? "domains" : "search"} ${s.domains.join(" ")}` : ""}`
  );
  if (s.dnsNote) l.push(`             ${s.dnsNote}`);
  l.push(`Routes:      ${s.routes.join(", ")}`);
  const path = { threaded: "native data plane", native: "native crypto", js: "JavaScript" }[s.espPath];
  l.push(
    `IKE:         IKEv${s.ikeVersion ?? 2} ${s.ike.ikeProposal}   ESP: ${s.ike.espProposal} (${path})`
  );
  if (s.ike.keyExchanges)
    l.push(
      `Key exchange: ${s.ike.keyExchanges} (${s.ike.postQuantum ? "post-quantum protected" : "not post-quantum: classic only"})`
    );
  l.push(`Gateway ID:  ${s.ike.remoteId}   our ID: ${s.ike.localId}`);
  if (s.redirectedFrom)
    l.push(`Gateway:     ${s.gatewayAddress} (redirected from ${s.redirectedFrom}, RFC 5685)`);
  if (s.ike.ppk !== void 0)
    l.push(
      `PPK:         ${s.ike.ppk ? "in use (RFC 8784 post-quantum preshared key)" : "NOT in use (the gateway did not use it)"}`
    );
  l.push(
    `NAT:         ${s.ike.natHere ? "behind NAT (keepalives on)" : "none on our side"}; UDP encapsulation to port ${s.ike.remote.port}`
  );
  return l.map(printable);
}

// src/cli/sd-notify.ts
var MAX_SOCKET_PATH = 107;
function checkNotifySocket(value) {
  if (value.length < 2 || Buffer.byteLength(value) > MAX_SOCKET_PATH)
    return { refused: `its length (${Buffer.byteLength(value)} bytes) does not fit a socket` };
  if (value[0] !== "/" && value[0] !== "@")
    return { refused: "only absolute paths and abstract names (@...) are supported" };
  if (/[\u0000-\u001f\u007f]/.test(value)) return { refused: "it holds control characters" };
  return { path: value };
}
function statusText(s) {
  const flat = s.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}
function notifyFor(e) {
  switch (e.type) {
    case "stage":
      switch (e.stage) {
        case "resolving":
          return `STATUS=connecting: resolving ${statusText(e.detail ?? "")}`;
        case "ike-sa-init":
          return "STATUS=connecting: IKE_SA_INIT";
        case "ike-auth":
          return "STATUS=authenticating";
        case "main-mode":
          return "STATUS=connecting: IKEv1 Main Mode";
        case "aggressive-mode":
          return "STATUS=connecting: IKEv1 Aggressive Mode";
        case "quick-mode":
          return "STATUS=authenticating: IKEv1 XAUTH, Mode Config, Quick Mode";
        case "configuring":
          return `STATUS=configuring ${statusText(e.detail ?? "")}`;
      }
      return void 0;
    case "up": {
      const s = e.summary;
      const vip = [s.virtualIp4, s.virtualIp6].filter((v) => v !== void 0).join(", ");
      return `READY=1
STATUS=${statusText(`up ${vip || "(no virtual IP)"} via ${s.gateway} on ${s.device}`)}`;
    }
    case "rekeyed":
      return `STATUS=${statusText(`up; ${e.what === "ike" ? "IKE SA" : "CHILD_SA"} rekeyed by ${e.by === "us" ? "us" : "the gateway"}`)}`;
    case "roamed":
      return `STATUS=${statusText(`up; moved to ${e.local} (MOBIKE)`)}`;
    case "reconnecting":
      return `STATUS=${statusText(`reconnecting (attempt ${e.attempt}${e.inMs > 0 ? ` in ${Math.round(e.inMs / 1e3)} s` : ""}): ${e.reason}`)}`;
    case "redirected":
      return `STATUS=${statusText(`redirected from ${e.from} to ${e.name ?? e.to}: reconnecting`)}`;
    case "wake":
      return `STATUS=${statusText(`woke after ${Math.round(e.sleptMs / 1e3)} s: checking the gateway`)}`;
    case "down":
      return `STOPPING=1
STATUS=${statusText(e.error ? `down: ${e.error.message}` : "down; routes and DNS restored")}`;
    case "nat":
    case "warning":
      return void 0;
  }
}
var SdNotify = class {
  path;
  warn;
  addon;
  failed = false;
  /**
   * Reads (and removes) $NOTIFY_SOCKET from `env`. `warn` reports, once, why notifications
   * cannot be sent (then systemd's start timeout ends a Type=notify service: the reason is in
   * the journal).
   */
  constructor(env, warn, addon3) {
    this.warn = warn;
    const value = env["NOTIFY_SOCKET"];
    delete env["NOTIFY_SOCKET"];
    if (value === void 0 || value === "") return;
    const checked = checkNotifySocket(value);
    if ("refused" in checked) {
      warn(`ignoring NOTIFY_SOCKET: ${checked.refused}`);
      return;
    }
    this.path = checked.path;
    this.addon = addon3;
  }
  /** Whether a supervisor waits for our notifications ($NOTIFY_SOCKET was set and usable). */
  get enabled() {
    return this.path !== void 0;
  }
  /** Sends `message` (e.g. "READY=1\nSTATUS=up"); never throws. */
  send(message) {
    if (this.path === void 0 || this.failed) return;
    try {
      this.addon ??= loadNativeEsp();
      if (this.addon === void 0) {
        const st = nativeEspStatus();
        throw new Error(st.available ? "the esp addon did not load" : st.reason);
      }
      if (typeof this.addon.notify !== "function") throw new Error("the addon has no notify()");
      this.addon.notify(this.path, Buffer.from(message, "utf8"));
    } catch (e) {
      this.failed = true;
      this.warn(
        `cannot notify systemd (${e.message}); no more notifications will be sent`
      );
    }
  }
  /** The notification for a tunnel event, if it has one. */
  onEvent(e) {
    const m = notifyFor(e);
    if (m !== void 0) this.send(m);
  }
};

// src/cli/service-command.ts
import { spawnSync } from "node:child_process";
import { chmodSync as chmodSync3, existsSync as existsSync5, readFileSync as readFileSync4, renameSync as renameSync2, writeFileSync as writeFileSync2 } from "node:fs";
import { join as join5 } from "node:path";
import { fileURLToPath as fileURLToPath2 } from "node:url";
var UNIT_NAME = "ikev2-vpn@.service";
function shippedUnitPath() {
  return fileURLToPath2(new URL(`../../../systemd/${UNIT_NAME}`, import.meta.url));
}
function vpnBin() {
  return fileURLToPath2(new URL("../../../bin/vpn.js", import.meta.url));
}
function unitWord(path) {
  if (/["'\\\u0000-\u001f\u007f]/.test(path))
    throw new VpnError("ERR_CONFIG", `cannot put ${JSON.stringify(path)} in a unit file`);
  const escaped = path.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return /\s/.test(escaped) ? `"${escaped}"` : escaped;
}
function unitText(template, node, bin) {
  const lines = template.split("\n");
  const i = lines.findIndex((l) => l.startsWith("ExecStart="));
  if (i < 0) throw new VpnError("ERR_CONFIG", `${UNIT_NAME} has no ExecStart line`);
  lines[i] = `ExecStart=${unitWord(node)} ${unitWord(bin)} connect %i`;
  return lines.join("\n");
}
function serviceRetryForever(env, retrySource, profile) {
  return (env["NOTIFY_SOCKET"] ?? "") !== "" && retrySource !== "cli" && profile?.values["retry"] === void 0;
}
function fail2(e) {
  const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
  process.stderr.write(`vpn: ${printable(e.message)}
`);
  return code;
}
function registerInstallService(program2, setExit) {
  program2.command("install-service").description(
    "install the systemd unit ikev2-vpn@.service and enable ikev2-vpn@NAME (vpn connect NAME at boot)"
  ).argument("<name>", "profile name (NAME.conf, see vpn profiles)").option("--unit-dir <dir>", "where to write the unit", "/etc/systemd/system").option("--no-enable", "only write the unit; print the systemctl commands to run").option("--print", "print the unit on stdout; write nothing").action((name, flags) => {
    try {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(name))
        throw new VpnError(
          "ERR_CONFIG",
          `${JSON.stringify(name)} is not a profile name (up to 32 letters, digits, _ and -)`
        );
      const path = findProfile(name, fsIo.dirs(), (p) => fsIo.exists(p));
      if (path === void 0)
        throw new VpnError(
          "ERR_CONFIG",
          `no profile named ${name} in ${fsIo.dirs().join(" or ")}; write /etc/ikev2-vpn/${name}.conf first (or vpn import FILE --name ${name})`
        );
      loadProfile(name, path, fsIo);
      const unit = unitText(readFileSync4(shippedUnitPath(), "utf8"), process.execPath, vpnBin());
      if (flags.print) {
        process.stdout.write(unit);
        return setExit(EXIT.OK);
      }
      if (!path.startsWith("/etc/ikev2-vpn/"))
        process.stderr.write(
          printable(
            `warning: the service runs as root and reads /etc/ikev2-vpn/${name}.conf, not ${path}`
          ) + "\n"
        );
      const target2 = join5(flags.unitDir, UNIT_NAME);
      const tmp = `${target2}.tmp-${process.pid}`;
      try {
        writeFileSync2(tmp, unit, { mode: 420, flag: "wx" });
        chmodSync3(tmp, 420);
        renameSync2(tmp, target2);
      } catch (e) {
        throw new VpnError(
          "ERR_CONFIG",
          `cannot write ${target2} (${e.code ?? e.message}); run as root, or name another folder with --unit-dir`
        );
      }
      process.stderr.write(printable(`wrote ${target2}`) + "\n");
      const instance = `ikev2-vpn@${name}.service`;
      const manual = `systemctl daemon-reload && systemctl enable --now ${instance}`;
      if (!flags.enable || !existsSync5("/run/systemd/system")) {
        process.stderr.write(
          `${flags.enable ? "systemd is not running here; " : ""}to start it now and at boot, run: ${manual}
`
        );
        return setExit(EXIT.OK);
      }
      for (const args of [["daemon-reload"], ["enable", "--now", instance]]) {
        const r = spawnSync("systemctl", args, { stdio: "inherit", timeout: 12e4 });
        if (r.status !== 0)
          throw new VpnError(
            "ERR_CONFIG",
            `systemctl ${args.join(" ")} failed (${r.status ?? r.signal}); see: journalctl -u ${instance}`
          );
      }
      process.stderr.write(
        `${instance} enabled and started; follow it with: journalctl -u ${instance} -f
`
      );
      setExit(EXIT.OK);
    } catch (e) {
      setExit(fail2(e));
    }
  });
}

// src/cli/exec-command.ts
import { spawn as spawn2 } from "node:child_process";
import { constants as constants4 } from "node:os";

// src/client/netns.ts
import { execFileSync } from "node:child_process";
import { lstatSync as lstatSync4, mkdirSync as mkdirSync2, readFileSync as readFileSync5, readdirSync as readdirSync3, rmSync as rmSync3, writeFileSync as writeFileSync3 } from "node:fs";
import { join as join6 } from "node:path";
var NETNS_ETC = "/etc/netns";
function execNamespaceName(pid = process.pid) {
  return `vpnx-${pid}`;
}
function hasSysAdmin(status) {
  if (status === void 0) {
    try {
      status = readFileSync5("/proc/self/status", "utf8");
    } catch {
      return false;
    }
  }
  const m = /^CapEff:\s*([0-9a-fA-F]{1,16})$/m.exec(status);
  if (!m) return false;
  return (BigInt(`0x${m[1]}`) & 1n << 21n) !== 0n;
}
function namespaceRunner(ns, run = defaultRunner) {
  checkName2(ns);
  return (cmd, args, input) => {
    if (cmd !== "ip") {
      return Promise.reject(
        new VpnError("ERR_NETCFG", `${cmd} is not run inside the namespace ${ns}`)
      );
    }
    return run("ip", ["-n", ns, ...args], input);
  };
}
function checkName2(ns) {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$/.test(ns)) {
    throw new VpnError("ERR_NETCFG", `invalid namespace name ${JSON.stringify(ns)}`);
  }
}
function namespaceHostNetwork(outer, inner, log = NOOP_LOGGER) {
  return {
    getRouteTo: (ip) => outer.getRouteTo(ip),
    linkMtu: (dev) => outer.linkMtu(dev),
    defaultPath: (v6, exclude) => outer.defaultPath(v6, exclude),
    pinnedPath: () => void 0,
    repinHostRoute: () => Promise.resolve(false),
    addHostRouteVia: (dest) => {
      log.debug("tun", `no host route to ${dest}: IKE and ESP leave from the caller's namespace`);
      return Promise.resolve();
    },
    setMtu: (dev, mtu) => inner.setMtu(dev, mtu),
    setUp: (dev) => inner.setUp(dev),
    addAddress: (dev, cidr) => inner.addAddress(dev, cidr),
    addRoute: (dest, opts2) => inner.addRoute(dest, opts2),
    addRoutes: (dests, opts2) => inner.addRoutes(dests, opts2),
    addBlockRoute: (dest, metric) => inner.addBlockRoute(dest, metric),
    setDns: (dev, servers, domains, opts2) => inner.setDns(dev, servers, domains, opts2),
    restore: () => inner.restore()
  };
}
var EMPTY_RESOLV = "# ikev2-vpn exec: no DNS servers from the gateway\n";
var ExecNamespace = class {
  name;
  etcDir;
  log;
  created = false;
  constructor(name = execNamespaceName(), log = NOOP_LOGGER) {
    checkName2(name);
    this.name = name;
    this.log = log;
    this.etcDir = join6(NETNS_ETC, name);
  }
  get resolvConf() {
    return join6(this.etcDir, "resolv.conf");
  }
  /**
   * Creates the namespace (loopback up) and its /etc/netns directory with a resolv.conf of its
   * own, so the command never sees the caller's servers (unreachable from inside). A namespace or
   * directory of this name is ours (the name carries our pid): left by an earlier process with
   * the same pid, it is replaced. Returns the names of namespaces left by killed `vpn exec`
   * processes that were removed first (`staleNamespaces`).
   * @throws VpnError ERR_PRIVILEGE without CAP_SYS_ADMIN, ERR_NETCFG otherwise.
   */
  async create() {
    if (!hasSysAdmin()) {
      throw new VpnError(
        "ERR_PRIVILEGE",
        "vpn exec needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create a network namespace"
      );
    }
    this.created = true;
    const stale = await removeStale(this.log);
    try {
      await defaultRunner("ip", ["netns", "add", this.name]);
    } catch (e) {
      if (!/File exists/i.test(e.message)) throw e;
      this.log.warn("tun", `replacing a stale network namespace ${this.name}`);
      await defaultRunner("ip", ["netns", "del", this.name]);
      await defaultRunner("ip", ["netns", "add", this.name]);
    }
    await defaultRunner("ip", ["-n", this.name, "link", "set", "dev", "lo", "up"]);
    mkdirSync2(NETNS_ETC, { recursive: true, mode: 493 });
    removeEtcDir(this.etcDir);
    mkdirSync2(this.etcDir, { mode: 493 });
    writeFileSync3(this.resolvConf, EMPTY_RESOLV, { mode: 420, flag: "wx" });
    return stale;
  }
  /** Moves a device from the caller's namespace into this one (synchronously: no packet races). */
  moveDevice(dev) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(dev)) {
      throw new VpnError("ERR_NETCFG", `invalid interface name ${JSON.stringify(dev)}`);
    }
    try {
      execFileSync("ip", ["link", "set", "dev", dev, "netns", this.name], {
        timeout: 1e4,
        stdio: ["ignore", "ignore", "pipe"]
      });
    } catch (e) {
      const stderr = e.stderr?.toString().trim();
      throw new VpnError(
        "ERR_NETCFG",
        `cannot move ${dev} into namespace ${this.name}: ${stderr || e.message}`,
        { cause: e }
      );
    }
  }
  /**
   * The tunnel driver's I/O for this namespace: the TUN device opened in the caller's namespace
   * and moved here; host changes inside the namespace, DNS in its own resolv.conf.
   */
  io() {
    return {
      openTun: (opts2) => {
        const tun = openTun(opts2);
        try {
          this.moveDevice(tun.name);
        } catch (e) {
          tun.close();
          throw e;
        }
        return tun;
      },
      hostNetwork: (opts2) => namespaceHostNetwork(
        new NetConfigurator({ logger: opts2.logger }),
        new NetConfigurator({
          logger: opts2.logger,
          run: namespaceRunner(this.name),
          dnsBackend: "file",
          resolvConf: this.resolvConf
        }),
        opts2.logger
      )
    };
  }
  /** How to run COMMAND in the namespace: `ip netns exec` (which also mounts its resolv.conf). */
  commandLine(command) {
    return ["ip", ["netns", "exec", this.name, ...command]];
  }
  /** Deletes the namespace and /etc/netns/NS; safe to call more than once. Never throws. */
  async remove() {
    const errors = [];
    if (!this.created) return errors;
    try {
      await defaultRunner("ip", ["netns", "del", this.name]);
    } catch (e) {
      const m = e.message;
      if (!/No such file|does not exist/i.test(m)) errors.push(m);
    }
    try {
      removeEtcDir(this.etcDir);
    } catch (e) {
      errors.push(e.message);
    }
    if (errors.length > 0) this.log.warn("tun", `cleaning up ${this.name}: ${errors.join("; ")}`);
    else this.created = false;
    return errors;
  }
};
var NETNS_RUN = "/run/netns";
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}
function staleNamespaces() {
  const names = /* @__PURE__ */ new Set();
  for (const dir of [NETNS_RUN, NETNS_ETC]) {
    let entries;
    try {
      entries = readdirSync3(dir);
    } catch {
      continue;
    }
    for (const n of entries) {
      const m = /^vpnx-([1-9][0-9]{0,9})$/.exec(n);
      if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) names.add(n);
    }
  }
  return [...names].sort();
}
async function removeStale(log) {
  const removed = [];
  for (const n of staleNamespaces()) {
    try {
      if (readdirSync3(NETNS_RUN).includes(n)) await defaultRunner("ip", ["netns", "del", n]);
      removeEtcDir(join6(NETNS_ETC, n));
      removed.push(n);
    } catch (e) {
      log.warn("tun", `cannot remove ${n}: ${e.message}`);
    }
  }
  return removed;
}
function removeEtcDir(dir) {
  try {
    lstatSync4(dir);
  } catch {
    return;
  }
  rmSync3(dir, { recursive: true, force: true });
}

// src/client/userns.ts
import { spawn, spawnSync as spawnSync2 } from "node:child_process";
import { existsSync as existsSync6, readFileSync as readFileSync6, readdirSync as readdirSync4, rmSync as rmSync4, writeFileSync as writeFileSync4 } from "node:fs";
import { delimiter as delimiter2, join as join7 } from "node:path";
import { fileURLToPath as fileURLToPath3 } from "node:url";
var HELPER = fileURLToPath3(new URL("./userns-helper.js", import.meta.url));
var READY_MS = 15e3;
function onPath(tool) {
  const dirs = (process.env["PATH"] ?? "/usr/bin:/bin").split(delimiter2);
  return [...dirs, "/usr/bin", "/bin"].some((d) => d.startsWith("/") && existsSync6(join7(d, tool)));
}
function readSysctl(path) {
  try {
    return readFileSync6(path, "utf8").trim();
  } catch {
    return void 0;
  }
}
function userNamespaceSupport() {
  if (readSysctl("/proc/sys/user/max_user_namespaces") === "0")
    return {
      ok: false,
      reason: "user namespaces are disabled here (user.max_user_namespaces = 0)"
    };
  if (readSysctl("/proc/sys/kernel/unprivileged_userns_clone") === "0")
    return {
      ok: false,
      reason: "unprivileged user namespaces are disabled here (kernel.unprivileged_userns_clone = 0)"
    };
  for (const tool of ["unshare", "nsenter", "ip", "mount"])
    if (!onPath(tool))
      return { ok: false, reason: `${tool} is not installed (util-linux, iproute2)` };
  const r = spawnSync2("unshare", ["--user", "--map-root-user", "--net", "--mount", "true"], {
    encoding: "utf8",
    timeout: 1e4
  });
  if (r.status !== 0)
    return {
      ok: false,
      reason: `the kernel refused a user namespace (${printable((r.stderr || r.error?.message || `exit ${r.status}`).trim().slice(0, 200))})`
    };
  return { ok: true };
}
var UserNamespace = class {
  log;
  resolvConf;
  helper;
  /** The TUN descriptor the helper passed, until the tunnel adopts it (openTun). */
  tunFd;
  /** `dir`: our private runtime directory (ensureRuntimeDir), for the namespace's resolv.conf. */
  constructor(dir, log = NOOP_LOGGER) {
    this.log = log;
    this.resolvConf = join7(dir, `exec-${process.pid}.resolv.conf`);
  }
  get name() {
    return `userns-${this.helper?.pid ?? "?"}`;
  }
  /**
   * Starts the helper and takes the TUN device it opened inside. Removes the resolv.conf files
   * of `vpn exec` processes that are gone (kill -9); returns their names.
   * @throws VpnError ERR_PRIVILEGE when the namespaces cannot be made, ERR_TUN without a TUN.
   */
  async create() {
    const stale = removeStale2(this.resolvConf);
    writeFileSync4(this.resolvConf, "# ikev2-vpn exec: no DNS servers from the gateway\n", {
      mode: 420
    });
    const chan = openPacketPair({ name: "fd-channel" });
    try {
      const helper = spawn(
        "unshare",
        [
          "--user",
          "--map-root-user",
          "--net",
          "--mount",
          process.execPath,
          HELPER,
          this.resolvConf
        ],
        {
          stdio: ["pipe", "pipe", "pipe", chan.peerFd],
          env: { PATH: `${process.env["PATH"] ?? ""}:/usr/sbin:/usr/bin:/sbin:/bin` }
        }
      );
      this.helper = helper;
      helper.stdin?.on("error", () => void 0);
      let err = "";
      helper.stderr?.on("data", (d) => {
        if (err.length < 2e3) err += d.toString();
      });
      await new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(
            new VpnError(
              "ERR_PRIVILEGE",
              "vpn exec: the user namespace helper did not start in time"
            )
          ),
          READY_MS
        );
        helper.stdout?.on("data", (d) => {
          if (d.toString().includes("ready")) {
            clearTimeout(t);
            resolve();
          }
        });
        helper.once("error", (e) => {
          clearTimeout(t);
          reject(new VpnError("ERR_PRIVILEGE", `cannot run unshare: ${e.message}`));
        });
        helper.once("exit", (code) => {
          clearTimeout(t);
          const why = printable(err.trim().slice(0, 500)) || `exit ${code ?? "?"}`;
          reject(
            new VpnError(
              /TUN|tun/.test(why) ? "ERR_TUN" : "ERR_PRIVILEGE",
              `cannot set up the private namespaces: ${why}`
            )
          );
        });
      });
      const got = recvFd(chan.device.fd);
      if (!got) throw new VpnError("ERR_TUN", "the user namespace helper sent no TUN device");
      this.tunFd = got.fd;
      this.log.debug(
        "tun",
        `TUN device ${printable(got.data.toString())} in ${this.name} (a user namespace of ours)`
      );
    } finally {
      chan.device.close();
      closeFd(chan.peerFd);
    }
    return stale;
  }
  /** `ip ARGS` inside the namespaces, through nsenter (nothing else is run there). */
  runner() {
    return (cmd, args, input) => {
      const pid = this.helper?.pid;
      if (cmd !== "ip" || pid === void 0)
        return Promise.reject(new VpnError("ERR_NETCFG", `${cmd} is not run inside the namespace`));
      return defaultRunner(
        "nsenter",
        ["--target", String(pid), "--user", "--net", "--preserve-credentials", "--", "ip", ...args],
        input
      );
    };
  }
  /** The tunnel's I/O: the TUN device from inside, changes made inside, DNS in our file. */
  io() {
    return {
      openTun: (opts2) => {
        const fd = this.tunFd;
        if (fd === void 0) throw new VpnError("ERR_TUN", "no TUN device from the namespace");
        this.tunFd = void 0;
        return openTunFromFd(fd, opts2.mtu !== void 0 ? { mtu: opts2.mtu } : {});
      },
      hostNetwork: (opts2) => namespaceHostNetwork(
        new NetConfigurator({ logger: opts2.logger }),
        new NetConfigurator({
          logger: opts2.logger,
          run: this.runner(),
          dnsBackend: "file",
          resolvConf: this.resolvConf
        }),
        opts2.logger
      )
    };
  }
  /** How to run COMMAND in the namespaces (its working directory kept). */
  commandLine(command) {
    const pid = String(this.helper?.pid ?? 0);
    return [
      "nsenter",
      [
        "--target",
        pid,
        "--user",
        "--net",
        "--mount",
        "--preserve-credentials",
        `--wd=${process.cwd()}`,
        "--",
        ...command
      ]
    ];
  }
  /** Ends the helper (the namespaces go with their last process) and removes our file. */
  async remove() {
    const errors = [];
    if (this.tunFd !== void 0) closeFd(this.tunFd);
    this.tunFd = void 0;
    const h = this.helper;
    if (h && h.exitCode === null && h.signalCode === null) {
      const gone = new Promise((resolve) => h.once("exit", () => resolve()));
      h.stdin?.end();
      const t = setTimeout(() => h.kill("SIGKILL"), 3e3);
      await gone;
      clearTimeout(t);
    }
    try {
      rmSync4(this.resolvConf, { force: true });
    } catch (e) {
      errors.push(e.message);
    }
    if (errors.length > 0) this.log.warn("tun", `cleaning up: ${errors.join("; ")}`);
    return errors;
  }
};
function removeStale2(ours) {
  const dir = ours.slice(0, ours.lastIndexOf("/"));
  const removed = [];
  let names = [];
  try {
    names = readdirSync4(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = /^exec-([1-9][0-9]{0,9})\.resolv\.conf$/.exec(n);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue;
    } catch (e) {
      if (e.code === "EPERM") continue;
    }
    rmSync4(join7(dir, n), { force: true });
    removed.push(n);
  }
  return removed;
}

// src/cli/profile-commands.ts
var SECRET_FIELD = {
  psk: "psk",
  "eap-password": "eapPassword",
  "key-passphrase": "keyPassphrase",
  "p12-password": "p12Password",
  "xauth-password": "xauthPassword"
};
function attributeOf(key) {
  return key.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
}
function keyOfOption(o) {
  const long = o.long?.replace(/^--/, "");
  if (long === void 0) return void 0;
  return o.negate ? long.replace(/^no-/, "") : long;
}
var NOT_SETTINGS = /* @__PURE__ */ new Set(["profile", "daemon-child", "help"]);
function loadByName(name) {
  const path = findProfile(name, fsIo.dirs(), (p) => fsIo.exists(p));
  if (path === void 0)
    throw new VpnError(
      "ERR_CONFIG",
      `no profile named ${JSON.stringify(name)} in ${fsIo.dirs().join(" or ")}; list them with: vpn profiles`
    );
  return loadProfile(name, path, fsIo);
}
function fail3(e, json, extra = {}) {
  const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
  const message = e.message;
  if (json)
    process.stdout.write(
      printableJson({ event: "error", exitCode: code, error: message, ...extra }) + "\n"
    );
  process.stderr.write(`vpn: ${printable(message)}
`);
  return code;
}
function resolveConnect(target2, flags, cmd) {
  try {
    const name = flags.profile ?? (target2 !== void 0 && findProfile(target2, fsIo.dirs(), (p2) => fsIo.exists(p2)) ? target2 : void 0);
    if (name === void 0) {
      if (target2 === void 0)
        throw new VpnError(
          "ERR_CONFIG",
          "missing the gateway: vpn connect GATEWAY [options], or vpn connect PROFILE (see vpn profiles)"
        );
      return { ok: true, gateway: target2, flags, secrets: {} };
    }
    const p = loadByName(name);
    const merged = { ...flags };
    const secrets = {};
    for (const [key, value] of Object.entries(p.values)) {
      if (key === "gateway") continue;
      const field = SECRET_FIELD[key];
      if (field !== void 0) {
        secrets[field] = value;
        continue;
      }
      const attr = attributeOf(key);
      if (cmd.getOptionValueSource(attr) !== "cli") merged[attr] = value;
    }
    if (!("name" in p.values) && cmd.getOptionValueSource("name") !== "cli") merged["name"] = name;
    const gateway = flags.profile !== void 0 && target2 !== void 0 ? target2 : p.values["gateway"];
    if (typeof gateway !== "string")
      throw new VpnError(
        "ERR_CONFIG",
        `no gateway in profile at ${p.path}; add a line: gateway = HOST`
      );
    return { ok: true, gateway, flags: merged, secrets, profile: p };
  } catch (e) {
    return { ok: false, code: fail3(e, flags.json) };
  }
}
function tunnelNameFor(target2) {
  const path = findProfile(target2, fsIo.dirs(), (p) => fsIo.exists(p));
  if (path === void 0) return target2;
  const n = loadProfile(target2, path, fsIo).values["name"];
  return typeof n === "string" ? n : target2;
}
function authOf(values) {
  const f = {};
  for (const k of ["eap-identity", "eap", "cert", "p12"])
    if (typeof values[k] === "string") f[attributeOf(k)] = values[k];
  return authKind(f);
}
function shown(v) {
  return Array.isArray(v) ? v.join(", ") : String(v);
}
function effectiveSettings(p, connect3) {
  const out = [];
  const g = p.values["gateway"];
  if (g !== void 0) out.push({ key: "gateway", value: shown(g), source: "file" });
  for (const o of connect3.options) {
    const key = keyOfOption(o);
    if (key === void 0 || NOT_SETTINGS.has(key)) continue;
    const v = p.values[key];
    if (v !== void 0) out.push({ key, value: shown(v), source: "file" });
    else if (key === "name") out.push({ key, value: p.name, source: "default" });
    else if (o.defaultValue !== void 0)
      out.push({ key, value: shown(o.defaultValue), source: "default" });
  }
  for (const secret of Object.keys(SECRET_KEYS))
    if (secret in p.values)
      out.push({ key: secret, value: "(set in the file; elided)", source: "file" });
  return out;
}
function addProfileCommands(program2, connect3, setExit) {
  program2.command("profiles").description("list the profiles (vpn connect NAME): name, gateway, authentication").option("--json", "one JSON line per profile").action((flags) => {
    let code = EXIT.OK;
    const seen = /* @__PURE__ */ new Set();
    for (const dir of fsIo.dirs())
      for (const name of fsIo.list(dir)) {
        if (seen.has(name)) continue;
        seen.add(name);
        const path = `${dir}/${name}.conf`;
        try {
          const p = loadProfile(name, path, fsIo);
          const gateway = typeof p.values["gateway"] === "string" ? p.values["gateway"] : "";
          const auth = authOf(p.values);
          if (flags.json)
            process.stdout.write(printableJson({ name, gateway, auth, path }) + "\n");
          else
            process.stdout.write(
              [name, gateway || "(no gateway)", auth, path].map(printable).join("	") + "\n"
            );
        } catch (e) {
          code = fail3(e, flags.json, { name, path });
        }
      }
    if (seen.size === 0 && !flags.json)
      process.stderr.write(`no profiles in ${fsIo.dirs().join(" or ")}
`);
    setExit(code);
  });
  program2.command("show").description("print the effective settings of a profile (file and defaults; secrets elided)").argument("<name>", "profile name").option("--json", "one JSON line").action((name, flags) => {
    try {
      const p = loadByName(name);
      const settings = effectiveSettings(p, connect3);
      if (flags.json)
        process.stdout.write(
          printableJson({
            name,
            path: p.path,
            auth: authOf(p.values),
            settings: Object.fromEntries(settings.map((s) => [s.key, s.value])),
            fromFile: settings.filter((s) => s.source === "file").map((s) => s.key)
          }) + "\n"
        );
      else {
        process.stdout.write(printable(`# ${p.path} (auth: ${authOf(p.values)})`) + "\n");
        const width = Math.max(...settings.map((s) => s.key.length));
        for (const s of settings)
          process.stdout.write(
            printable(
              `${s.key.padEnd(width)} = ${s.value}${s.source === "default" ? "   # default" : ""}`
            ) + "\n"
          );
      }
      setExit(EXIT.OK);
    } catch (e) {
      setExit(fail3(e, flags.json));
    }
  });
}

// src/cli/exec-command.ts
var NOT_FOR_EXEC = /* @__PURE__ */ new Set([
  "--profile",
  "--background",
  "--daemon-child",
  "--json",
  "--kill-switch",
  "--exclude",
  "--name",
  "--socks5",
  "--http-proxy"
]);
function registerExec(program2, connect3, setExit, build) {
  const cmd = program2.command("exec").description(
    "run a command in a private network namespace where the tunnel is the only network (root, or unprivileged user namespaces)"
  ).argument("<gateway>", "gateway host name or IP address, or a profile name (see vpn profiles)").argument("<command...>", "the command and its arguments, after --");
  for (const o of connect3.options) {
    if (!NOT_FOR_EXEC.has(o.long ?? "")) cmd.addOption(o);
  }
  cmd.action(async (target2, command, flags) => {
    const r = resolveConnect(target2, flags, cmd);
    if (!r.ok) return setExit(r.code);
    setExit(await execCommand(r.gateway, command, forExec(r.flags), build, r.secrets));
  });
}
function forExec(flags) {
  const skip = /* @__PURE__ */ new Set(["background", "json", "killSwitch", "name", "socks5", "httpProxy"]);
  return Object.fromEntries(
    Object.entries(flags).filter(([k]) => !skip.has(k))
  );
}
var SECRET_ENV = ["VPN_PSK", "VPN_EAP_PASSWORD", "VPN_KEY_PASSPHRASE", "VPN_P12_PASSWORD"];
function childEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !SECRET_ENV.includes(k)));
}
function statusOf(code, signal) {
  if (code !== null) return code;
  const n = signal ? constants4.signals[signal] : void 0;
  return n !== void 0 ? 128 + n : EXIT.INTERNAL;
}
async function execCommand(gateway, command, flags, build, fromProfile = {}) {
  const ui = await Ui.create("plain", flags.verbose === true);
  const root = hasSysAdmin();
  if (!root) {
    const userns = userNamespaceSupport();
    if (!userns.ok) {
      const message = `vpn exec needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) to create a network namespace, or unprivileged user namespaces: ${userns.reason}`;
      ui.fail(message, EXIT.PRIVILEGE);
      return EXIT.PRIVILEGE;
    }
  }
  let options;
  try {
    ensureRuntimeDir();
    checkGatewayNaming(flags.hostCheck ? void 0 : false, flags.remoteId);
    const interactive = process.stdin.isTTY && process.stderr.isTTY && process.env["CI"] !== "true";
    const secrets = await gatherSecrets(flags, interactive, fromProfile);
    options = build(gateway, flags, secrets, ui);
  } catch (e) {
    const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
    ui.fail(e.message, code);
    return code;
  }
  const ns = root ? new ExecNamespace(void 0, ui.logger()) : new UserNamespace(runtimeDir(), ui.logger());
  let tunnel;
  let child;
  let cancelledBy;
  const onSignal = (sig) => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(sig);
      return;
    }
    cancelledBy ??= sig;
    ui.info(`${sig}: cancelling; removing the namespace`);
    void tunnel?.close();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  try {
    for (const n of await ns.create())
      ui.info(
        root ? `removed network namespace ${n} left by a vpn exec that was killed` : `removed ${n} left by a vpn exec that was killed`
      );
    if (cancelledBy) return exitCodeForSignal(cancelledBy);
    const rest = { ...options };
    delete rest.journalPath;
    const t = new Tunnel({ ...rest, io: { ...options.io, ...ns.io() } });
    tunnel = t;
    let tunnelError;
    t.on((e) => {
      if (e.type === "down" && e.error) tunnelError = e.error;
      ui.onEvent(e.type === "down" && e.error ? { ...e, error: withHint(e.error, flags) } : e);
      if (e.type === "down" && child && child.exitCode === null && child.signalCode === null)
        child.kill("SIGTERM");
    });
    try {
      await t.connect();
    } catch (e) {
      if (cancelledBy) return exitCodeForSignal(cancelledBy);
      const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
      return code;
    }
    if (cancelledBy) {
      await t.close();
      return exitCodeForSignal(cancelledBy);
    }
    ui.info(`running ${command[0] ?? ""} in network namespace ${ns.name}`);
    const [bin, args] = ns.commandLine(command);
    const c = spawn2(bin, args, {
      stdio: "inherit",
      env: childEnv()
    });
    child = c;
    const status = await new Promise((resolve) => {
      c.on("error", (err) => {
        ui.fail(`cannot run ${bin}: ${err.message}`, 127);
        resolve(127);
      });
      c.on("exit", (code, signal) => resolve(statusOf(code, signal)));
    });
    await t.close();
    if (tunnelError && !cancelledBy) return exitCodeFor(tunnelError.code);
    return status;
  } catch (e) {
    const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
    ui.fail(e.message, code);
    return code;
  } finally {
    await tunnel?.close();
    await ns.remove();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
  }
}

// src/cli/doctor-command.ts
import { readFileSync as readFileSync7 } from "node:fs";
import { join as join8 } from "node:path";
function packageVersion() {
  const root = packageRoot();
  try {
    const pkg = JSON.parse(readFileSync7(join8(root ?? ".", "package.json"), "utf8"));
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}
function doctorReport(env = process.env) {
  const tun = tunAddonStatus();
  const st = nativeEspStatus();
  const esp = st.available ? {
    available: true,
    source: st.source === "path" ? "build" : st.source,
    path: st.path,
    opensslVersion: st.opensslVersion
  } : st;
  const dp = dataPlaneStatus();
  const off = env["VPN_FAST_PATH"] === "0";
  const reason = off ? "turned off (VPN_FAST_PATH=0)" : dp.available ? void 0 : dp.reason;
  return {
    version: packageVersion(),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    addons: { tun, esp },
    espPath: reason === void 0 ? "threaded" : "js",
    ...reason !== void 0 ? { espPathReason: reason } : {},
    tunMode: tun.available
  };
}
function addonLine(s) {
  if (!s.available) return `not available: ${s.reason}`;
  return `${s.source === "prebuild" ? "prebuilt" : "local build"} ${s.path}`;
}
function doctorLines(r) {
  const lines = [
    `vpn ${r.version} on Node ${r.node}, ${r.platform}-${r.arch}`,
    `TUN addon:  ${addonLine(r.addons.tun)}`,
    `ESP addon:  ${addonLine(r.addons.esp)}${r.addons.esp.opensslVersion ? ` (${r.addons.esp.opensslVersion})` : ""}`,
    `ESP path:   ${r.espPath === "threaded" ? "native data plane (its own threads)" : `JavaScript (${r.espPathReason ?? ""})`}`,
    `TUN mode:   ${r.tunMode ? "ready (needs root or CAP_NET_ADMIN to connect)" : "not possible without the TUN addon"}`
  ];
  return lines.map(printable);
}
function registerDoctor(program2, setExit) {
  program2.command("doctor").description("show which native addons are loaded (prebuilt, local build or none)").option("--json", "machine-readable output").action((flags) => {
    const r = doctorReport();
    if (flags.json) process.stdout.write(printableJson(r) + "\n");
    else process.stdout.write(doctorLines(r).join("\n") + "\n");
    setExit(r.tunMode ? EXIT.OK : EXIT.PRIVILEGE);
  });
}

// src/cli/import-command.ts
import { spawnSync as spawnSync3 } from "node:child_process";
import { X509Certificate as X509Certificate6 } from "node:crypto";
import {
  closeSync as closeSync4,
  constants as constants5,
  fstatSync as fstatSync4,
  lstatSync as lstatSync5,
  mkdirSync as mkdirSync3,
  mkdtempSync,
  openSync as openSync4,
  readFileSync as readFileSync8,
  rmSync as rmSync5,
  statSync as statSync2,
  unlinkSync as unlinkSync4,
  writeFileSync as writeFileSync5
} from "node:fs";
import { tmpdir } from "node:os";
import { basename as basename2, join as join9 } from "node:path";
function readImportFile(path) {
  let fd;
  try {
    fd = openSync4(path, constants5.O_RDONLY | constants5.O_NONBLOCK);
  } catch (e) {
    throw new VpnError("ERR_CONFIG", `cannot read ${path}: ${e.message}`);
  }
  try {
    const st = fstatSync4(fd);
    if (!st.isFile()) throw new VpnError("ERR_CONFIG", `${path} is not a regular file`);
    if (st.size > MAX_IMPORT_BYTES)
      throw new VpnError(
        "ERR_CONFIG",
        `${path} is larger than 1 MiB (${st.size} bytes): not a VPN profile vpn imports`
      );
    return new Uint8Array(readFileSync8(fd));
  } finally {
    closeSync4(fd);
  }
}
function openssl(args, input) {
  const r = spawnSync3("openssl", args, {
    input,
    timeout: 15e3,
    killSignal: "SIGKILL",
    maxBuffer: 2 * MAX_IMPORT_BYTES
  });
  if (r.error && r.error.code === "ENOENT")
    throw new VpnError(
      "ERR_CONFIG",
      "openssl is needed to check the signed profile: apt-get install openssl"
    );
  return r;
}
function firstLine(b) {
  const s = Buffer.isBuffer(b) ? b.toString("utf8") : "";
  const line = s.split("\n").find((l) => l.trim() !== "" && !/^[0-9A-F]{8,}:/.test(l)) ?? s;
  return printable(line.trim().slice(0, 160));
}
function verifySignedProfile(data, trustCa) {
  const tmp = mkdtempSync(join9(tmpdir(), "vpn-import-"));
  try {
    const signerPem = join9(tmp, "signer.pem");
    const r = openssl(
      ["cms", "-verify", "-inform", "DER", "-binary", "-noverify", "-signer", signerPem],
      data
    );
    if (r.status !== 0)
      throw new VpnError(
        "ERR_CERT",
        `the profile's CMS signature does not verify (openssl: ${firstLine(r.stderr)}); refusing a tampered or corrupt profile`
      );
    const content = new Uint8Array(r.stdout);
    let signer = "(unknown signer)";
    try {
      signer = new X509Certificate6(readFileSync8(signerPem)).subject.replace(/\n/g, ", ");
    } catch {
    }
    if (trustCa === void 0)
      return {
        content,
        status: {
          signed: true,
          signer,
          verified: false,
          text: `signed by ${signer}; signature valid, but the signer was NOT verified against a trusted CA (pass --trust-ca FILE)`
        }
      };
    if (statSync2(trustCa, { throwIfNoEntry: false })?.isFile() !== true)
      throw new VpnError("ERR_CONFIG", `--trust-ca ${trustCa}: no such file`);
    const c = openssl(
      ["cms", "-verify", "-inform", "DER", "-binary", "-purpose", "any", "-CAfile", trustCa],
      data
    );
    if (c.status !== 0)
      throw new VpnError(
        "ERR_CERT_UNTRUSTED",
        `the profile is signed by ${signer}, which does not chain to --trust-ca ${trustCa} (openssl: ${firstLine(c.stderr)})`
      );
    return {
      content,
      status: {
        signed: true,
        signer,
        verified: true,
        text: `signed by ${signer}; the signer chains to ${trustCa}`
      }
    };
  } finally {
    rmSync5(tmp, { recursive: true, force: true });
  }
}
async function importFile(path, data, trustCa) {
  const mobileconfig = () => import("../chunks/import-mobileconfig-HU3BI4OB.mjs");
  let i = 0;
  if (data[0] === 239 && data[1] === 187 && data[2] === 191) i = 3;
  while (i < data.length && [32, 9, 10, 13].includes(data[i])) i++;
  const unsigned = { signed: false, verified: false, text: "not signed" };
  const refuseUnsigned = () => {
    if (trustCa !== void 0)
      throw new VpnError(
        "ERR_CERT_UNTRUSTED",
        `${path} is not signed, but --trust-ca asks for a profile signed by that CA`
      );
  };
  const text = (b) => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(b);
    } catch {
      throw new VpnError("ERR_CONFIG", `${path} is not UTF-8 text`);
    }
  };
  if (data[i] === 123) {
    refuseUnsigned();
    return {
      imported: fromSswan(text(data)),
      signature: { ...unsigned, text: "a .sswan profile carries no signature" }
    };
  }
  if (data[i] === 60) {
    refuseUnsigned();
    const { fromMobileconfig, parseMobileconfigXml } = await mobileconfig();
    return { imported: fromMobileconfig(parseMobileconfigXml(text(data))), signature: unsigned };
  }
  if (data[0] === 48) {
    const { content, status } = verifySignedProfile(data, trustCa);
    const { fromMobileconfig, parseMobileconfigXml } = await mobileconfig();
    return { imported: fromMobileconfig(parseMobileconfigXml(text(content))), signature: status };
  }
  throw new VpnError(
    "ERR_CONFIG",
    `${path} is neither a strongSwan .sswan profile (JSON) nor an Apple .mobileconfig (plist XML, or CMS-signed)`
  );
}
function writeProfile(imp, source, name, dir, force, signature) {
  const conf = join9(dir, `${name}.conf`);
  const files = imp.files.map((f) => ({ ...f, path: join9(dir, `${name}${f.suffix}`) }));
  const all = [conf, ...files.map((f) => f.path)];
  const taken = all.filter((p) => lstatSync5(p, { throwIfNoEntry: false }) !== void 0);
  if (taken.length > 0 && !force)
    throw new VpnError(
      "ERR_CONFIG",
      `${taken.join(", ")} already exist${taken.length === 1 ? "s" : ""}; pass --force to replace, or --name OTHER`
    );
  try {
    mkdirSync3(dir, { recursive: true, mode: 448 });
  } catch (e) {
    throw new VpnError("ERR_CONFIG", `cannot create ${dir}: ${e.message}`);
  }
  const written = [];
  try {
    const put = (p, data) => {
      if (force) rmSync5(p, { force: true });
      try {
        writeFileSync5(p, data, { mode: 384, flag: "wx" });
      } catch (e) {
        throw new VpnError("ERR_CONFIG", `cannot write ${p}: ${e.message}`);
      }
      written.push(p);
    };
    for (const f of files) put(f.path, f.data);
    const names = Object.fromEntries(files.map((f) => [f.key, basename2(f.path)]));
    put(conf, renderProfile(imp, source, names, signature.text));
    loadProfile(name, conf, fsIo);
  } catch (e) {
    for (const p of written) {
      try {
        unlinkSync4(p);
      } catch {
      }
    }
    throw e;
  }
  return { conf, files: files.map((f) => ({ key: f.key, path: f.path })) };
}
function registerImport(program2, setExit) {
  program2.command("import").description(
    "make a profile from a strongSwan .sswan or an Apple .mobileconfig (plain or signed)"
  ).argument("<file>", "the .sswan or .mobileconfig file").option("--name <name>", "profile name (default: from the file name)").option("--force", "replace an existing profile of that name and its files").option(
    "--trust-ca <file>",
    "a signed .mobileconfig must be signed by a certificate of this CA"
  ).option("--json", "one JSON line").action(async (file, flags) => {
    try {
      const name = flags.name ?? profileNameFrom(basename2(file));
      if (!PROFILE_NAME.test(name))
        throw new VpnError(
          "ERR_CONFIG",
          `profile name ${JSON.stringify(name)}: use up to 32 letters, digits, _ and -`
        );
      const { imported, signature } = await importFile(file, readImportFile(file), flags.trustCa);
      const dir = fsIo.dirs()[0];
      const out = writeProfile(imported, file, name, dir, flags.force === true, signature);
      if (flags.json) {
        process.stdout.write(
          printableJson({
            event: "imported",
            name,
            path: out.conf,
            format: imported.format,
            signature,
            files: out.files,
            settings: Object.fromEntries(
              imported.settings.filter((s) => !["psk", "eap-password", "p12-password"].includes(s.key)).map((s) => [s.key, s.value])
            ),
            unmapped: imported.unmapped,
            notes: imported.notes
          }) + "\n"
        );
      } else {
        const w = (s) => process.stdout.write(printable(s) + "\n");
        w(
          `Imported ${file} (${imported.format === "sswan" ? "strongSwan .sswan" : "Apple .mobileconfig"}; ${signature.text}) as profile ${name}:`
        );
        w(`  ${out.conf}`);
        for (const f of out.files)
          w(`  ${f.path} (${f.key === "ca" ? "CA certificate" : "PKCS#12 certificate and key"})`);
        if (imported.unmapped.length > 0) {
          w("Not imported (also listed in the profile):");
          for (const u of imported.unmapped) w(`  ${u.path}: ${u.reason}`);
        }
        for (const n of imported.notes) w(`Note: ${n}`);
        w(`Next: vpn show ${name}; vpn up ${name}`);
      }
      setExit(EXIT.OK);
    } catch (e) {
      const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
      if (flags.json)
        process.stdout.write(
          printableJson({ event: "error", exitCode: code, error: e.message }) + "\n"
        );
      process.stderr.write(`vpn: ${printable(e.message)}
`);
      setExit(code);
    }
  });
}

// src/client/proxy.ts
import { spawn as spawn3 } from "node:child_process";
import { accessSync, constants as fsConstants3, statSync as statSync3 } from "node:fs";
import { connect as connect2, createServer as createServer2, isIPv4 } from "node:net";
import { delimiter as delimiter3, join as join10 } from "node:path";
function parseListen(value, flag = "--socks5") {
  const m = /^(?:(.*):)?([0-9]{1,5})$/.exec(value.trim());
  const host = m?.[1] === void 0 || m[1] === "localhost" ? "127.0.0.1" : m[1];
  const port = m ? Number(m[2]) : NaN;
  if (!m || !isIPv4(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new VpnError(
      "ERR_CONFIG",
      `${flag} ${JSON.stringify(value)}: expected [ADDRESS:]PORT with an IPv4 address (default 127.0.0.1), e.g. 127.0.0.1:1080`
    );
  }
  return { host, port };
}
function findOcproxy(env = process.env) {
  const exe = (p) => {
    try {
      accessSync(p, fsConstants3.X_OK);
      return statSync3(p).isFile();
    } catch {
      return false;
    }
  };
  const forced = env["VPN_OCPROXY"];
  if (forced !== void 0 && forced !== "")
    return forced.startsWith("/") && exe(forced) ? forced : void 0;
  for (const d of (env["PATH"] ?? "/usr/bin:/bin").split(delimiter3)) {
    if (d.startsWith("/") && exe(join10(d, "ocproxy"))) return join10(d, "ocproxy");
  }
  return void 0;
}
function ocproxyMissing(env = process.env) {
  const forced = env["VPN_OCPROXY"];
  return new VpnError(
    "ERR_PROXY_MISSING",
    forced ? `proxy mode needs ocproxy, and VPN_OCPROXY=${JSON.stringify(forced)} is not an executable file (an absolute path)` : "proxy mode (--socks5) needs ocproxy, the userspace TCP/IP stack that serves SOCKS5: install it (apt-get install ocproxy) or set VPN_OCPROXY to its path"
  );
}
async function checkListenFree(l) {
  await new Promise((resolve, reject) => {
    const srv = createServer2();
    srv.once(
      "error",
      (e) => reject(
        new VpnError(
          "ERR_CONFIG",
          `cannot listen on ${l.host}:${l.port} for SOCKS5 (${e.code ?? e.message}): ${e.code === "EADDRINUSE" ? "the port is in use; pick another" : "pick another address or port"}`
        )
      )
    );
    srv.listen({ host: l.host, port: l.port, exclusive: true }, () => srv.close(() => resolve()));
  });
}
function nothingToChange() {
  const none = () => Promise.resolve();
  const notAsked = () => Promise.reject(new VpnError("ERR_NETCFG", "proxy mode reads the path from the host"));
  return {
    getRouteTo: notAsked,
    linkMtu: notAsked,
    defaultPath: notAsked,
    pinnedPath: () => void 0,
    repinHostRoute: () => Promise.resolve(false),
    addHostRouteVia: none,
    setMtu: none,
    setUp: none,
    addAddress: none,
    addRoute: none,
    addRoutes: none,
    addBlockRoute: none,
    setDns: () => Promise.resolve(void 0),
    restore: () => Promise.resolve([])
  };
}
function saneDomain(d) {
  return d !== void 0 && /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(d) ? d : void 0;
}
var RESTARTS = 3;
var RESTART_WINDOW_MS = 6e4;
var READY_MS2 = 1e4;
var KILL_MS = 2e3;
var OcproxyStack = class {
  opts;
  log;
  device;
  peerFd;
  child;
  config;
  stopping = false;
  /** ocproxy processes told to end and not yet gone (stop() waits for them). */
  dying = /* @__PURE__ */ new Set();
  restarts = [];
  fatal;
  notify;
  constructor(opts2) {
    this.opts = opts2;
    this.log = opts2.logger ?? NOOP_LOGGER;
  }
  get listen() {
    return this.opts.listen;
  }
  /** ocproxy's PID while it runs. */
  get pid() {
    return this.child?.pid;
  }
  /** What the user should hear of: ocproxy serving (again), ocproxy restarting. */
  onEvent(cb) {
    this.notify = cb;
  }
  /** Called once when ocproxy keeps dying (or cannot start again): the tunnel must end. */
  onFatal(cb) {
    this.fatal = cb;
  }
  /**
   * The tunnel's I/O in proxy mode: the packet pair instead of a TUN device; the path to the
   * gateway read from the host (`ip route get`, no privilege), and no change to it at all.
   */
  io() {
    return {
      openTun: (o) => {
        if (this.device) throw new VpnError("ERR_TUN", "proxy mode opens its packet pair once");
        const { device, peerFd } = openPacketPair({ name: "ocproxy", mtu: o.mtu ?? 1400 });
        this.device = device;
        this.peerFd = peerFd;
        return device;
      },
      hostNetwork: (o) => namespaceHostNetwork(
        new NetConfigurator({ logger: o.logger }),
        nothingToChange(),
        o.logger
      )
    };
  }
  /**
   * Starts ocproxy for the tunnel that just came up (again: with a new virtual IP it is
   * restarted, otherwise left running). Resolves once its SOCKS5 port accepts a connection.
   * @throws VpnError ERR_CONFIG without a virtual IPv4 address, ERR_NETCFG if it does not start.
   */
  async start(summary) {
    if (this.stopping) return;
    if (!summary.virtualIp4) {
      throw new VpnError(
        "ERR_CONFIG",
        "proxy mode needs a virtual IPv4 address from the gateway, and it assigned none"
      );
    }
    const domain = saneDomain(summary.domains[0]);
    const next = {
      ip4: summary.virtualIp4,
      mtu: summary.mtu,
      dns: summary.dns.filter((d) => isIPv4(d)),
      ...domain ? { domain } : {}
    };
    const same = JSON.stringify(next) === JSON.stringify(this.config);
    this.config = next;
    if (same && this.running()) return;
    if (this.running()) await this.kill();
    this.spawn();
    await this.waitReady();
    this.notify?.({ type: "ready", pid: this.child?.pid ?? 0 });
  }
  running() {
    const c = this.child;
    return c !== void 0 && c.exitCode === null && c.signalCode === null;
  }
  spawn() {
    const cfg = this.config;
    if (cfg === void 0 || this.peerFd === void 0) return;
    const { host, port } = this.opts.listen;
    const args = ["-D", `${host}:${port}`];
    if (this.opts.keepaliveS) args.push("-k", String(this.opts.keepaliveS));
    const env = {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      VPNFD: "3",
      INTERNAL_IP4_ADDRESS: cfg.ip4,
      INTERNAL_IP4_MTU: String(cfg.mtu),
      ...cfg.dns.length > 0 ? { INTERNAL_IP4_DNS: cfg.dns.join(" ") } : {},
      ...cfg.domain ? { CISCO_DEF_DOMAIN: cfg.domain } : {}
    };
    const child = spawn3(this.opts.binary, args, {
      env,
      stdio: ["ignore", "pipe", "pipe", this.peerFd],
      detached: true
    });
    this.child = child;
    this.log.info(
      "tun",
      `ocproxy (pid ${child.pid ?? "?"}) serves SOCKS5 on ${host}:${port} for ${cfg.ip4}${cfg.dns.length ? `, DNS ${cfg.dns[0]}` : ""}`
    );
    const relay = (d) => {
      for (const l of d.toString("utf8").split("\n").slice(0, 20)) {
        if (l.trim() !== "") this.log.debug("tun", `ocproxy: ${printable(l.slice(0, 300))}`);
      }
    };
    child.stdout?.on("data", relay);
    child.stderr?.on("data", relay);
    child.on("error", (e) => this.log.warn("tun", `ocproxy: ${e.message}`));
    child.on("exit", (code, signal) => {
      if (this.child !== child || this.stopping) return;
      this.onDied(`exit ${code ?? signal ?? "?"}`);
    });
  }
  /** ocproxy ended without being asked: start it again, unless it keeps dying. */
  onDied(how) {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.restarts.length >= RESTARTS) {
      this.fatal?.(
        new VpnError(
          "ERR_NETCFG",
          `ocproxy, the proxy's TCP/IP stack, stopped (${how}) ${RESTARTS + 1} times within a minute; giving up`
        )
      );
      return;
    }
    this.restarts.push(now);
    this.notify?.({ type: "restarting", reason: how });
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn();
      this.waitReady().then(
        () => this.notify?.({ type: "ready", pid: this.child?.pid ?? 0 }),
        (e) => this.onDied(e.message)
      );
    }, 500).unref();
  }
  /** Resolves once ocproxy accepts a TCP connection on its SOCKS5 port. */
  async waitReady() {
    const child = this.child;
    const { host, port } = this.opts.listen;
    const deadline = Date.now() + READY_MS2;
    for (; ; ) {
      if (!child || child.exitCode !== null || child.signalCode !== null) {
        throw new VpnError(
          "ERR_NETCFG",
          `ocproxy exited (${child?.exitCode ?? child?.signalCode ?? "?"}) before serving SOCKS5 on ${host}:${port}`
        );
      }
      const ok = await new Promise((resolve) => {
        const s = connect2({ host, port });
        s.once("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline)
        throw new VpnError("ERR_NETCFG", `ocproxy did not serve SOCKS5 on ${host}:${port} in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  /** SIGTERM to ocproxy by PID, SIGKILL after KILL_MS; resolves once it is gone. */
  async kill() {
    const child = this.child;
    this.child = void 0;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once("exit", () => resolve()));
    this.dying.add(gone);
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), KILL_MS);
    await gone;
    clearTimeout(t);
    this.dying.delete(gone);
  }
  /** Ends ocproxy and closes our copy of its end of the pair. Idempotent; never throws. */
  async stop() {
    this.stopping = true;
    await this.kill();
    await Promise.all([...this.dying]);
    if (this.peerFd !== void 0) {
      try {
        closeFd(this.peerFd);
      } catch {
      }
      this.peerFd = void 0;
    }
  }
};

// src/cli/proxy-mode.ts
async function checkProxyFlags(flags) {
  if (flags.httpProxy !== void 0) {
    throw new VpnError(
      "ERR_CONFIG",
      "--http-proxy is not available: ocproxy, the TCP/IP stack of proxy mode, serves SOCKS5 only. Use --socks5 and point HTTP clients at it (curl --socks5-hostname HOST:PORT, or https_proxy=socks5h://HOST:PORT)"
    );
  }
  if (flags.socks5 === void 0) return;
  const listen = parseListen(flags.socks5);
  if (flags.killSwitch) {
    throw new VpnError(
      "ERR_CONFIG",
      "--kill-switch does not apply to --socks5: proxy mode changes no route (only what goes through the proxy uses the tunnel)"
    );
  }
  if (flags.exclude?.length) {
    throw new VpnError(
      "ERR_CONFIG",
      "--exclude does not apply to --socks5: proxy mode changes no route (only what goes through the proxy uses the tunnel)"
    );
  }
  if (findOcproxy() === void 0) throw ocproxyMissing();
  await checkListenFree(listen);
}
function proxyStack(flags, log) {
  if (flags.socks5 === void 0) return void 0;
  const binary = findOcproxy();
  if (binary === void 0) throw ocproxyMissing();
  return new OcproxyStack({ listen: parseListen(flags.socks5), binary, logger: log });
}
function proxyOptions(options, stack) {
  const rest = { ...options, io: { ...options.io, ...stack.io() } };
  delete rest.journalPath;
  delete rest.killSwitch;
  return rest;
}
function asVpnError(e) {
  return e instanceof VpnError ? e : new VpnError("ERR_NETCFG", String(e));
}
function attachProxy(tunnel, stack, ui, fail4) {
  let first = true;
  stack.onFatal(fail4);
  const l = stack.listen;
  stack.onEvent((e) => {
    if (e.type === "restarting") ui.info(`ocproxy stopped (${e.reason}); starting it again`);
    else if (ui.mode === "json")
      ui.json({ event: "proxy", socks5: `${l.host}:${l.port}`, pid: e.pid });
    else
      ui.info(
        `SOCKS5 proxy on ${l.host}:${l.port} (ocproxy pid ${e.pid}); e.g. curl --socks5-hostname ${l.host}:${l.port} http://host.inside/`
      );
  });
  tunnel.on((e) => {
    if (e.type === "up" && !first)
      stack.start(e.summary).catch((err) => fail4(asVpnError(err)));
    if (e.type === "down") void stack.stop();
  });
  return {
    started: async (s) => {
      first = false;
      await stack.start(s);
    }
  };
}

// src/cli/early-child.ts
import { closeSync as closeSync5, writeSync as writeSync2 } from "node:fs";
var KEY = /* @__PURE__ */ Symbol.for("ikev2-vpn.earlyDaemonChild");
function tunnelNodeFlags() {
  if (process.env["VPN_NODE_LITE"] === "0") return [];
  return addonCandidates("esp").length > 0 ? ["--lite-mode"] : [];
}
function daemonLogPath(name) {
  return `${ensureRuntimeDir()}/${name}.log`;
}
function takeEarlyChild() {
  const g = globalThis;
  const child = g[KEY];
  g[KEY] = void 0;
  if (!child) return void 0;
  if (child.exitCode !== null || child.signalCode !== null || !child.connected) {
    child.kill();
    return void 0;
  }
  child.ref();
  child.channel?.ref?.();
  return child;
}
function isEarlyChild() {
  const early = process.env["VPN_EARLY_CHILD"] === "1";
  delete process.env["VPN_EARLY_CHILD"];
  return early;
}
function redirectToLog(name) {
  const fd = openPrivateAppend(daemonLogPath(name));
  const dup = tunAddonFunction("redirectOutput");
  if (dup) {
    dup(fd);
    closeSync5(fd);
    return;
  }
  for (const s of [process.stdout, process.stderr]) {
    s.write = (chunk, ...rest) => {
      if (typeof chunk === "string") writeSync2(fd, chunk);
      else writeSync2(fd, chunk);
      const cb = rest.find((r) => typeof r === "function");
      cb?.();
      return true;
    };
  }
}

// src/cli/main.ts
function uiMode(json) {
  if (json) return "json";
  return process.stderr.isTTY && (process.stderr.columns ?? 0) > 0 && process.env["CI"] !== "true" ? "tty" : "plain";
}
async function runForeground(gateway, flags, secrets, ui, hooks = {}) {
  const notify = new SdNotify(process.env, (m) => ui.info(`warning: ${m}`));
  const onFail = hooks.onFail;
  hooks = {
    ...hooks,
    onFail: (code, message) => {
      notify.send(`STATUS=${statusText(`failed (exit ${code}): ${message}`)}`);
      onFail?.(code, message);
    }
  };
  const running = await alreadyRunning(flags.name);
  if (running) {
    ui.fail(running.message, EXIT.ALREADY_RUNNING);
    hooks.onFail?.(EXIT.ALREADY_RUNNING, running.message);
    return EXIT.ALREADY_RUNNING;
  }
  const refused = await NetConfiguratorRecovery(flags.name, ui);
  if (refused) {
    hooks.onFail?.(refused.code, refused.message);
    return refused.code;
  }
  let options;
  let stack;
  try {
    options = tunnelOptions(gateway, flags, secrets, ui);
    stack = proxyStack(flags, ui.logger());
    if (stack) options = proxyOptions(options, stack);
  } catch (e) {
    const err2 = e;
    const code = err2 instanceof VpnError ? exitCodeFor(err2.code) : EXIT.INTERNAL;
    ui.fail(err2.message, code);
    hooks.onFail?.(code, err2.message);
    return code;
  }
  const tunnel = new Tunnel(options);
  tunnel.on((e) => {
    notify.onEvent(e);
    if (e.type === "up") up = true;
    ui.onEvent(e.type === "down" && e.error ? { ...e, error: withHint(e.error, flags) } : e);
  });
  let proxyError;
  const proxy = stack ? attachProxy(tunnel, stack, ui, (err2) => {
    proxyError ??= err2;
    void tunnel.close();
  }) : void 0;
  const sockPath = controlSocketPath(runtimeDir(), flags.name);
  let control;
  try {
    control = await ControlServer.listen(sockPath, async (req3) => {
      if (req3.cmd === "status") return { ...tunnel.status(), pid: process.pid };
      await tunnel.close();
      return { disconnected: true };
    });
  } catch (e) {
    const err2 = e instanceof VpnError && /already running/.test(e.message) ? await alreadyRunning(flags.name) ?? e : e;
    const code = err2 instanceof VpnError ? exitCodeFor(err2.code) : EXIT.INTERNAL;
    ui.fail(err2.message, code);
    hooks.onFail?.(code, err2.message);
    return code;
  }
  let userClosed = false;
  let cancelledBy;
  let up = false;
  const onSignal = (sig) => {
    userClosed = true;
    if (!up) cancelledBy ??= sig;
    notify.send(`STOPPING=1
STATUS=${up ? "disconnecting" : "cancelling"} (${sig})`);
    ui.info(up ? `${sig}: disconnecting` : `${sig}: cancelling; restoring host settings`);
    void tunnel.close();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  process.once("uncaughtException", (e) => {
    ui.fail(`internal error: please report it: ${e.message}`, EXIT.INTERNAL);
    printStack(e);
    const done = () => exitAfterFlush(EXIT.INTERNAL);
    setTimeout(done, 3e3).unref();
    tunnel.close().then(done, done);
  });
  const cancelled = () => {
    const message = `cancelled (${cancelledBy}); host settings restored`;
    ui.fail(message, exitCodeForSignal(cancelledBy));
    hooks.onFail?.(exitCodeForSignal(cancelledBy), message);
    return exitCodeForSignal(cancelledBy);
  };
  try {
    const summary = await tunnel.connect();
    if (cancelledBy) {
      await tunnel.close();
      control.close();
      return cancelled();
    }
    if (proxy) {
      try {
        await proxy.started(summary);
      } catch (e) {
        await tunnel.close();
        throw e;
      }
    }
    up = true;
    hooks.onUp?.(summary);
  } catch (e) {
    control.close();
    await stack?.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    if (cancelledBy) return cancelled();
    const err2 = e instanceof VpnError ? withHint(e, flags) : e;
    const code = err2 instanceof VpnError ? exitCodeFor(err2.code) : EXIT.INTERNAL;
    ui.fail(err2.message, code);
    hooks.onFail?.(code, err2.message);
    return code;
  }
  const err = await tunnel.closed;
  control.close();
  await stack?.stop();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.off("SIGHUP", onSignal);
  if (proxyError) {
    ui.fail(proxyError.message, exitCodeFor(proxyError.code));
    return exitCodeFor(proxyError.code);
  }
  if (err && !userClosed) {
    ui.fail(withHint(err, flags).message, exitCodeFor(err.code));
    return exitCodeFor(err.code);
  }
  return EXIT.OK;
}
function printStack(e) {
  const stack = e instanceof Error ? e.stack ?? e.message : String(e);
  for (const l of stack.split("\n")) process.stderr.write(`${printable(l)}
`);
}
async function alreadyRunning(name) {
  let st;
  try {
    st = await request(tunnelSocketPath(name), { cmd: "status" }, 1e3);
  } catch {
    return void 0;
  }
  const pid = st?.pid;
  return new VpnError(
    "ERR_ALREADY_RUNNING",
    `a tunnel named ${name} is already running (pid ${Number.isSafeInteger(pid) ? String(pid) : "unknown"}); disconnect it first (vpn disconnect${name !== "default" ? ` --name ${name}` : ""}) or pick another --name`
  );
}
async function NetConfiguratorRecovery(name, ui) {
  try {
    const left = await restoreLeftovers(name, { dir: ensureRuntimeDir() });
    if (left) ui.info(`restored host network settings left by a previous run (${left.journal})`);
    return void 0;
  } catch (e) {
    const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
    ui.fail(e.message);
    return { code, message: e.message };
  }
}
async function connectCommand(gateway, flags, fromProfile = {}) {
  if (flags.daemonChild) return daemonChild(gateway, flags);
  const ui = await Ui.create(uiMode(flags.json), flags.verbose === true);
  let secrets;
  try {
    ensureRuntimeDir();
    checkGatewayNaming(flags.hostCheck ? void 0 : false, flags.remoteId);
    await checkProxyFlags(flags);
    const running = await alreadyRunning(flags.name);
    if (running) throw running;
    const interactive = process.stdin.isTTY && process.stderr.isTTY && ui.mode !== "json" && process.env["CI"] !== "true";
    secrets = await gatherSecrets(flags, interactive, fromProfile);
  } catch (e) {
    const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
    ui.fail(e.message, code);
    return code;
  }
  if (!flags.background) return runForeground(gateway, flags, secrets, ui);
  return runBackground(flags, secrets, ui);
}
var daemonEntry;
function setDaemonEntry(path) {
  daemonEntry = path;
}
async function runBackground(flags, secrets, ui) {
  const bin = daemonEntry ?? fileURLToPath4(new URL("../../../bin/vpn.js", import.meta.url));
  const args = process.argv.slice(2).filter((a) => a !== "--background");
  const logPath = daemonLogPath(flags.name);
  const logFd = openPrivateAppend(logPath);
  const early = daemonEntry === void 0 ? takeEarlyChild() : void 0;
  const child = early ?? spawn4(process.execPath, [...tunnelNodeFlags(), bin, ...args, "--daemon-child"], {
    detached: true,
    stdio: ["ignore", logFd, logFd, "ipc"],
    env: {
      ...process.env,
      VPN_PSK: "",
      VPN_EAP_PASSWORD: "",
      VPN_KEY_PASSPHRASE: "",
      VPN_P12_PASSWORD: ""
    }
  });
  closeSync6(logFd);
  child.on("error", () => void 0);
  const result = await new Promise((resolve) => {
    child.on("message", (m) => resolve(m));
    child.on(
      "exit",
      (code) => resolve({
        ok: false,
        code: code ?? EXIT.INTERNAL,
        message: `tunnel process exited (${code}); see ${logPath}`
      })
    );
    child.send({ secrets }, () => void 0);
  });
  if (child.connected) child.disconnect();
  child.unref();
  if (!result.ok) {
    ui.fail(result.message, result.code);
    return result.code;
  }
  if (ui.mode === "json") ui.json({ event: "up", pid: child.pid, summary: result.summary });
  else {
    for (const l of summaryLines(result.summary)) process.stderr.write(`${l}
`);
    process.stderr.write(
      `Running in the background (pid ${child.pid}); stop with: vpn disconnect${flags.name !== "default" ? ` --name ${flags.name}` : ""}
`
    );
  }
  return EXIT.OK;
}
async function daemonChild(gateway, flags) {
  const ui = await Ui.create("plain", flags.verbose === true);
  const secrets = await new Promise((resolve) => {
    process.once("message", (m) => resolve(m.secrets));
    process.once("disconnect", () => resolve(void 0));
  });
  if (secrets === void 0) {
    ui.fail("the vpn connect that started this process went away", EXIT.CANCELLED);
    return EXIT.CANCELLED;
  }
  if (isEarlyChild()) redirectToLog(flags.name);
  return runForeground(gateway, flags, secrets, ui, {
    // The parent may be gone (killed, or its terminal closed): never send on a closed channel.
    onUp: (summary) => {
      if (!process.connected) return;
      process.send?.({ ok: true, summary }, () => void 0);
      process.disconnect?.();
    },
    onFail: (code, message) => {
      if (process.connected) process.send?.({ ok: false, code, message }, () => void 0);
    }
  });
}
async function statusCommand(flags) {
  try {
    const st = await request(tunnelSocketPath(flags.name), { cmd: "status" });
    if (flags.json) {
      process.stdout.write(printableJson(st) + "\n");
      return EXIT.OK;
    }
    process.stdout.write(
      `State:       ${printable(st.state)}${st.uptimeMs ? ` for ${Math.round(st.uptimeMs / 1e3)} s` : ""}
`
    );
    if (st.summary)
      for (const l of summaryLines(st.summary).slice(1)) process.stdout.write(`${l}
`);
    const e = st.esp;
    process.stdout.write(
      `${printable(`Traffic:     out ${e["packetsOut"] ?? 0} packets / ${e["bytesOut"] ?? 0} bytes, in ${e["packetsIn"] ?? 0} packets / ${e["bytesIn"] ?? 0} bytes`)}
`
    );
    const drops = Object.entries(e).filter(
      ([k, v]) => !/^(packets|bytes)(In|Out)$/.test(k) && v > 0
    );
    process.stdout.write(
      `Drops:       ${printable(drops.length ? drops.map(([k, v]) => `${k}=${v}`).join(" ") : "none")}
`
    );
    return EXIT.OK;
  } catch (e) {
    const err = e;
    const code = err instanceof VpnError ? exitCodeFor(err.code) : EXIT.INTERNAL;
    let left;
    try {
      if (err instanceof VpnError && err.code === "ERR_CONTROL") left = findLeftovers(flags.name);
    } catch (e2) {
      process.stderr.write(`vpn: ${printable(e2.message)}
`);
    }
    if (flags.json)
      process.stdout.write(
        printableJson({
          state: "down",
          exitCode: code,
          error: err.message,
          ...left ? { leftovers: left.changes } : {}
        }) + "\n"
      );
    else if (left)
      process.stderr.write(
        printable(
          `vpn: tunnel ${flags.name} is not running, but its host changes are still in place: ${left.changes.join("; ")}`
        ) + `
Restore them with: vpn disconnect${flags.name !== "default" ? ` --name ${flags.name}` : ""}
`
      );
    else process.stderr.write(`vpn: ${printable(err.message)}
`);
    return code;
  }
}
async function disconnectCommand(flags) {
  try {
    await request(tunnelSocketPath(flags.name), { cmd: "disconnect" });
    if (flags.json) process.stdout.write(JSON.stringify({ disconnected: true }) + "\n");
    else process.stderr.write("Disconnected; routes and DNS restored.\n");
    return EXIT.OK;
  } catch (e) {
    let err = e;
    if (err instanceof VpnError && err.code === "ERR_CONTROL") {
      try {
        const left = await restoreLeftovers(flags.name);
        if (left) {
          if (flags.json)
            process.stdout.write(
              printableJson({ disconnected: false, restored: left.changes }) + "\n"
            );
          else
            process.stderr.write(
              printable(
                `Tunnel ${flags.name} was not running; restored the host changes it left: ${left.changes.join("; ")}`
              ) + "\n"
            );
          return EXIT.OK;
        }
      } catch (e2) {
        err = e2;
      }
    }
    const code = err instanceof VpnError ? exitCodeFor(err.code) : EXIT.INTERNAL;
    if (flags.json)
      process.stdout.write(
        printableJson({ disconnected: false, exitCode: code, error: err.message }) + "\n"
      );
    else process.stderr.write(`vpn: ${printable(err.message)}
`);
    return code;
  }
}
function buildProgram(setExit) {
  const program2 = new Command();
  program2.name("vpn").description("IKEv2/IPsec VPN client with a userspace ESP data path").version("0.1.0").exitOverride().configureOutput({
    writeErr: (s) => process.stderr.write(s.split("\n").map(printable).join("\n"))
  });
  const connect3 = program2.command("connect").alias("up").description("connect to an IKEv2 gateway and route traffic through a TUN device").argument("[gateway]", "gateway host name or IP address, or a profile name (see vpn profiles)");
  addConnectOptions(connect3).option("--background", "detach once the tunnel carries traffic").option("--json", "machine-readable output: one JSON object per line on stdout").option("-v, --verbose", "log protocol details").addOption(new Option("--daemon-child").hideHelp()).action(async (target2, flags, cmd) => {
    const r = resolveConnect(target2, flags, cmd);
    if (r.ok && serviceRetryForever(process.env, cmd.getOptionValueSource("retry"), r.profile))
      r.flags.retry = "forever";
    setExit(r.ok ? await connectCommand(r.gateway, r.flags, r.secrets) : r.code);
  });
  registerExec(
    program2,
    connect3,
    setExit,
    (g, f, s, u) => tunnelOptions(g, f, s, u)
  );
  registerImport(program2, setExit);
  program2.command("status").description("show the running tunnel").option("--json", "machine-readable output").addOption(new Option("--name <name>", "tunnel name").default("default")).action(async (flags) => setExit(await statusCommand(flags)));
  program2.command("disconnect").alias("down").description("close the running tunnel (DELETE to the gateway, host settings restored)").argument("[profile]", "the profile's tunnel (instead of --name)").option("--json", "machine-readable output").addOption(new Option("--name <name>", "tunnel name").default("default")).action(async (profile, flags) => {
    if (profile !== void 0) {
      try {
        flags.name = tunnelNameFor(profile);
      } catch (e) {
        const error = e.message;
        if (flags.json)
          process.stdout.write(
            printableJson({ disconnected: false, exitCode: EXIT.USAGE, error }) + "\n"
          );
        process.stderr.write(`vpn: ${printable(error)}
`);
        return setExit(EXIT.USAGE);
      }
    }
    setExit(await disconnectCommand(flags));
  });
  addProfileCommands(program2, connect3, setExit);
  registerDoctor(program2, setExit);
  registerInstallService(program2, setExit);
  return program2;
}
async function main(argv) {
  let code = EXIT.OK;
  const program2 = buildProgram((c) => code = c);
  try {
    await program2.parseAsync(argv);
  } catch (e) {
    const ce = e;
    if (ce.code === "commander.helpDisplayed" || ce.code === "commander.version" || ce.code === "commander.help")
      return EXIT.OK;
    const json = argv.includes("--json");
    if (typeof ce.code === "string" && ce.code.startsWith("commander.")) {
      if (json)
        process.stdout.write(
          printableJson({ event: "error", exitCode: EXIT.USAGE, error: e.message }) + "\n"
        );
      return EXIT.USAGE;
    }
    process.stderr.write(`vpn: internal error: please report it: ${printable(String(e))}
`);
    printStack(e);
    if (json)
      process.stdout.write(
        printableJson({ event: "error", exitCode: EXIT.INTERNAL, error: String(e) }) + "\n"
      );
    return EXIT.INTERNAL;
  }
  return code;
}

// src/action/vpn-entry.ts
setDaemonEntry(fileURLToPath5(import.meta.url));
ignoreClosedPipes();
exitAfterFlush(await main(process.argv));
/*! Bundled license information:

@noble/curves/utils.js:
@noble/curves/abstract/modular.js:
@noble/curves/abstract/curve.js:
@noble/curves/abstract/edwards.js:
@noble/curves/abstract/montgomery.js:
@noble/curves/ed25519.js:
@noble/curves/ed448.js:
@noble/curves/abstract/der.js:
@noble/curves/abstract/weierstrass.js:
@noble/curves/nist.js:
  (*! noble-curves - MIT License (c) 2022 Paul Miller (paulmillr.com) *)

@noble/post-quantum/utils.js:
@noble/post-quantum/_crystals.js:
@noble/post-quantum/ml-kem.js:
  (*! noble-post-quantum - MIT License (c) 2024 Paul Miller (paulmillr.com) *)
*/
