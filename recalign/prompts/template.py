"""A Template: one YAML entry (``id``, ``input``, ``target``, ``split``, ``metadata``),
compiled once and rendered many times.

>>> t = Template("r1", "retrieval", "seen", "Watched: {{ history | join(', ') }}. Next?", "{{ target }}")
>>> render(t, {"history": ["Heat", "Alien"], "target": "Fargo"})
('Watched: Heat, Alien. Next?', 'Fargo')
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from jinja2 import TemplateSyntaxError
from jinja2.exceptions import TemplateError

from ..errors import RecalignError
from .env import ENV

TEMPLATE_SETS = ("seen", "unseen")   # a template is for training (seen) or only for testing (unseen)
_PLAIN_VAR = re.compile(r"^\{\{-?\s*([A-Za-z_]\w*)\s*-?\}\}$")


@dataclass
class Template:
    """One prompt template. ``line``/``input_line``/``target_line`` are 1-based lines
    in ``path`` (the entry, and the first line of each Jinja source)."""

    id: str
    task: str
    split: str
    input: str
    target: str
    metadata: dict = field(default_factory=dict)
    path: str | None = None
    line: int | None = None
    input_line: int | None = None
    target_line: int | None = None
    _fns: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def error(self, message: str, part: str | None = None, lineno: int | None = None) -> RecalignError:
        """A RecalignError naming the file, template id and line (``lineno`` is
        relative to the ``part`` ('input'/'target') source)."""
        return RecalignError(f"template {self.id!r} ({self.task}): {message}", path=self.path,
                             line=self.file_line(part, lineno))

    def file_line(self, part: str | None, lineno: int | None = None) -> int | None:
        base = {"input": self.input_line, "target": self.target_line}.get(part or "", None)
        if base is None:
            return self.line
        return base + (lineno or 1) - 1

    def compile(self) -> tuple[Callable[[dict], str], Callable[[dict], str]]:
        """Compile input and target once; a syntax error names file, id and line."""
        if self._fns is None:
            self._fns = (self._compile_part("input"), self._compile_part("target"))
        return self._fns

    def _compile_part(self, part: str) -> Callable[[dict], str]:
        src = getattr(self, part)
        m = _PLAIN_VAR.match(src.strip())
        if m:  # fast path for "{{ target }}": no Jinja call per example
            name = m.group(1)

            def plain(ctx: dict, _n=name) -> str:
                if _n not in ctx:
                    raise self.error(f"{part}: {_n!r} is undefined", part)
                return str(ctx[_n])
            return plain
        try:
            tmpl = ENV.from_string(src)
        except TemplateSyntaxError as e:
            raise self.error(f"{part} does not parse: {e.message}", part, e.lineno) from None
        return tmpl.render

    def render(self, example: Any) -> tuple[str, str]:
        """Render ``example`` (an Example record or a dict) → ``(input, target)``, stripped."""
        ctx = example if isinstance(example, dict) else vars(example)
        fin, ftg = self.compile()
        try:
            return fin(ctx).strip(), ftg(ctx).strip()
        except RecalignError:
            raise
        except TemplateError as e:
            lineno = getattr(e, "lineno", None)
            raise self.error(f"render failed: {e}", "input", lineno) from None
        except (RecursionError, MemoryError, ArithmeticError, TypeError, ValueError, LookupError) as e:
            # a template's own fault (e.g. a macro calling itself, 1/0, 'a' + 1): one line, no traceback
            raise self.error(f"render failed: {type(e).__name__}: {str(e)[:200]}", "input") from None

    def to_dict(self) -> dict:
        """The YAML entry (without location fields)."""
        return {"id": self.id, "split": self.split, "input": self.input, "target": self.target,
                "metadata": dict(self.metadata)}

    def replace(self, **kw) -> "Template":
        return dataclasses.replace(self, **kw)


def render(template: Template, example: Any) -> tuple[str, str]:
    """Render one example with one template → ``(input, target)``."""
    return template.render(example)
