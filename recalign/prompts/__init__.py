"""Prompt templates: YAML + Jinja data, a sandboxed ``StrictUndefined`` environment,
and the validation rules.

Generic: this package knows no task (``recalign.tasks`` imports it, never the reverse).

>>> from recalign.prompts import Template, render
>>> render(Template("t", "demo", "seen", "Then: {{ history | join(', ') }}", "{{ target }}"),
...        {"history": ["Heat", "Alien"], "target": "Fargo"})
('Then: Heat, Alien', 'Fargo')
"""
from __future__ import annotations

from .env import ENV, make_env
from .loader import read_template_file, read_templates, template_files
from .template import Template, render
from .validate import check_template, check_templates

__all__ = ["ENV", "make_env", "Template", "render", "read_template_file", "read_templates", "template_files",
           "check_template", "check_templates"]
