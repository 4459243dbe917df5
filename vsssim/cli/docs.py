"""Commands that print generated documentation: state diagrams and the fidelity notes."""

from __future__ import annotations

import click

from vsssim._state import (
    CALL_GUARDS,
    CALLS_WHILE_PENDING,
    Guard,
    session_state_diagram,
    writer_state_diagram,
)
from vsssim.options import fidelity_markdown

__all__ = ["fidelity", "state_diagram", "state_diagram_markdown"]


def state_diagram_markdown(which: str) -> str:
    """The Markdown page (a fenced Mermaid block) for ``writer`` or ``requester``."""
    if which == "writer":
        title = "Writer states (VSS_WRITER_STATE)"
        intro = ("Generated from `vsssim._state.WRITER_TRANSITIONS` by "
                 "`vsssim state-diagram writer`. The documentation gives only the meaning of "
                 "each state; the transitions are inferred (reference §4.2).")
        body = writer_state_diagram()
    else:
        title = "Requester session states (IVssBackupComponents)"
        intro = ("Generated from `vsssim._state.SESSION_TRANSITIONS` by "
                 "`vsssim state-diagram requester`. Calls that keep the state, and Release "
                 "(legal in every state), are not drawn.")
        body = session_state_diagram()
        return f"# {title}\n\n{intro}\n\n```mermaid\n{body}```\n\n{_guards_markdown()}"
    return f"# {title}\n\n{intro}\n\n```mermaid\n{body}```\n"


def _guards_markdown() -> str:
    """The session facts calls need beyond their place in the diagram (``CALL_GUARDS``)."""
    rows = [f"| {call.value} | {'; '.join(g.value for g in guards)} |"
            for call, guards in CALL_GUARDS.items()]
    anytime = ", ".join(sorted(c.value for c in CALLS_WHILE_PENDING
                               if not c.value.startswith("(")))
    return "\n".join([
        "## Guards",
        "",
        "Some calls also need facts about the session that are not states "
        "(`vsssim._state.CALL_GUARDS`); a call whose guard does not hold is refused with "
        "`VSS_E_BAD_STATE`, which names the guard.",
        "",
        "| call | also needs |",
        "| --- | --- |",
        *rows,
        "",
        f"Every call also needs: {Guard.NOTHING_PENDING.value}, except {anytime}.",
        "",
    ])


@click.command("state-diagram")
@click.argument("which", type=click.Choice(["writer", "requester"]))
@click.option("--markdown", is_flag=True, help="Wrap it in the Markdown page kept in docs/.")
def state_diagram(which: str, markdown: bool) -> None:
    """Print the Mermaid state diagram of the writer or requester state table."""
    if markdown:
        click.echo(state_diagram_markdown(which), nl=False)
    else:
        click.echo(writer_state_diagram() if which == "writer" else session_state_diagram(),
                   nl=False)


@click.command()
def fidelity() -> None:
    """Print the fidelity notes: every choice made where VSS is undocumented."""
    click.echo(fidelity_markdown(), nl=False)
