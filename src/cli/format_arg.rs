//! `--format` and its short forms, offered per command from the formats it prints.

use std::marker::PhantomData;

use clap::Args;

use crate::output::{Format, Printable};

/// `--format NAME`, or `--json` / `--csv` for short: how a command prints. It offers
/// the formats `T` prints in (`Printable::FORMATS`) and no other, at most one of them.
pub struct FormatArg<T> {
    pub format: Format,
    of: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for FormatArg<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.format.fmt(f)
    }
}

impl<T: Printable> clap::FromArgMatches for FormatArg<T> {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let offered = T::FORMATS.iter().map(|(f, _)| *f);
        let named = matches.get_one::<String>("format");
        let format = offered
            .clone()
            .find(|f| named.is_some_and(|n| n == f.name()))
            .or_else(|| {
                offered
                    .clone()
                    .find(|f| f.flag() && matches.get_flag(f.name()))
            })
            .unwrap_or_default();
        Ok(FormatArg {
            format,
            of: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl<T: Printable> Args for FormatArg<T> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        use clap::builder::{PossibleValue, PossibleValuesParser};
        use clap::{Arg, ArgAction, ArgGroup};
        let values = T::FORMATS
            .iter()
            .map(|(f, help)| PossibleValue::new(f.name()).help(*help));
        let flags: Vec<String> = T::FORMATS
            .iter()
            .filter(|(f, _)| f.flag())
            .map(|(f, _)| format!("--{}", f.name()))
            .collect();
        let mut cmd = cmd.arg(
            Arg::new("format")
                .long("format")
                .value_name("FORMAT")
                .value_parser(PossibleValuesParser::new(values))
                .help(format!("How to print ({} for short)", flags.join(", "))),
        );
        let mut one_of = ArgGroup::new("output_format").arg("format");
        for (format, help) in T::FORMATS.iter().filter(|(f, _)| f.flag()) {
            cmd = cmd.arg(
                Arg::new(format.name())
                    .long(format.name())
                    .action(ArgAction::SetTrue)
                    .help(*help),
            );
            one_of = one_of.arg(format.name());
        }
        cmd.group(one_of)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}
