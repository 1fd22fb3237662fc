"""`kb completion bash|zsh|fish`: a shell completion script written from the CLI's own parser.

Why from the parser: a hand-kept list of commands and options goes stale the day an option is
added; walking argparse's actions gives every subcommand, its options and the fixed choices of
its arguments, so the script can only say what `kb` accepts. No dependency (shtab, argcomplete):
the script is static text, so completing costs the shell nothing and never starts Python.
"""

from __future__ import annotations

import argparse
import shlex

SHELLS = ("bash", "zsh", "fish")


def commands(parser: argparse.ArgumentParser) -> dict[str, dict]:
    """Subcommand -> {"help", "options": [(flags, help)], "choices": [words its arguments take]}."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help or "" for c in sub._choices_actions}
    out = {}
    for name, p in sub.choices.items():
        options, choices = [], []
        for a in p._actions:
            if a.option_strings:
                options.append((a.option_strings, a.help or ""))
            elif a.choices:
                choices += [str(c) for c in a.choices]
        out[name] = {"help": helps.get(name, ""), "options": options, "choices": choices}
    return out


def global_options(parser: argparse.ArgumentParser) -> list[tuple[list[str], str]]:
    return [(a.option_strings, a.help or "") for a in parser._actions if a.option_strings]


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    if shell == "fish":
        return _fish(parser)
    bash = _bash(parser)
    if shell == "zsh":  # zsh runs the bash function through its bashcompinit layer
        return ("(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }\n"
                "autoload -U +X bashcompinit && bashcompinit\n" + bash)
    return bash


def _words(items) -> str:
    return " ".join(sorted({w for w in items}))


def _bash(parser: argparse.ArgumentParser) -> str:
    cmds = commands(parser)
    glob = _words(f for flags, _ in global_options(parser) for f in flags)
    cases = "\n".join(
        f"        {name}) opts={shlex.quote(_words(f for flags, _ in c['options'] for f in flags))}; "
        f"args={shlex.quote(_words(c['choices']))};;" for name, c in sorted(cmds.items()))
    return f"""# kb completion for bash: eval "$(kb completion bash)", or save it under
# ~/.local/share/bash-completion/completions/kb
_kb() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" cmd="" i opts="" args=""
    local commands={shlex.quote(_words(cmds))}
    for ((i = 1; i < COMP_CWORD; i++)); do
        case " $commands " in
            *" ${{COMP_WORDS[i]}} "*) cmd="${{COMP_WORDS[i]}}"; break;;
        esac
    done
    case "$cmd" in
{cases}
    esac
    if [[ -z "$cmd" ]]; then
        [[ "$cur" == -* ]] && args={shlex.quote(glob)} || args="$commands"
    elif [[ "$cur" == -* ]]; then
        args="$opts"
    fi
    COMPREPLY=($(compgen -W "$args" -- "$cur"))
}}
complete -o default -F _kb kb
"""


def _fish(parser: argparse.ArgumentParser) -> str:
    def desc(text: str) -> str:
        return shlex.quote(text.split(";")[0][:60]) if text else "''"

    def flags(opts: list[str]) -> str:
        return " ".join(f"-l {o[2:]}" if o.startswith("--") else f"-s {o[1:]}" for o in opts)

    lines = ["# kb completion for fish: kb completion fish > ~/.config/fish/completions/kb.fish",
             "complete -c kb -f"]
    cmds = commands(parser)
    for opts, text in global_options(parser):
        lines.append(f"complete -c kb -n __fish_use_subcommand {flags(opts)} -d {desc(text)}")
    for name, c in sorted(cmds.items()):
        lines.append(f"complete -c kb -n __fish_use_subcommand -a {name} -d {desc(c['help'])}")
        seen = f"'__fish_seen_subcommand_from {name}'"
        for opts, text in c["options"]:
            lines.append(f"complete -c kb -n {seen} {flags(opts)} -d {desc(text)}")
        if c["choices"]:
            lines.append(f"complete -c kb -n {seen} -a {shlex.quote(' '.join(c['choices']))}")
        else:
            lines.append(f"complete -c kb -n {seen} -F")  # paths, questions: the shell's files
    return "\n".join(lines) + "\n"
