"""Prompt templates: YAML + Jinja data, a sandboxed ``StrictUndefined`` environment,
and the validation rules.

>>> from recalign.prompts import load_templates, render
>>> t = load_templates("retrieval")[0]                                  # doctest: +SKIP
>>> render(t, {"history": ["Heat", "Alien"], "target": "Fargo"})        # doctest: +SKIP
('I have watched Heat, Alien. ...', 'Fargo')
"""
from __future__ import annotations

from .env import ENV, make_env
from .loader import TEMPLATES_DIR, load_templates, read_template_file, read_templates, template_files
from .template import Template, render
from .validate import check_template, check_templates, declared_variables, validate_dir

__all__ = ["ENV", "make_env", "TEMPLATES_DIR", "Template", "render", "load_templates", "read_template_file",
           "read_templates", "template_files", "check_template", "check_templates", "declared_variables",
           "validate_dir"]
