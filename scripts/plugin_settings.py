"""Settings of tap-intercom and target-intercom, read from their config schemas.

One source for the settings lists that users see elsewhere, so they never drift from code:
- ``meltano`` prints the `settings:` YAML blocks for meltano.yml (kind, sensitive,
  description), and ``check-meltano`` fails when meltano.yml differs from the code;
- ``readme`` rewrites the README's settings tables from ``--about --format=markdown``.

    python scripts/plugin_settings.py meltano
    python scripts/plugin_settings.py check-meltano
    python scripts/plugin_settings.py write-meltano
    python scripts/plugin_settings.py readme
    python scripts/plugin_settings.py check-readme
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Settings the SDK adds for a capability; Meltano knows them from `capabilities`.
SDK_PREFIXES = ("stream_maps", "stream_map_config", "faker_config", "flattening_", "batch_config")


def plugin_classes() -> dict[str, Any]:
    from tap_intercom.tap import TapIntercom
    from target_intercom.target import TargetIntercom

    return {"tap-intercom": TapIntercom, "target-intercom": TargetIntercom}


def _kind(prop: dict[str, Any]) -> str:
    types = prop.get("type", "string")
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    if prop.get("secret") or prop.get("writeOnly"):
        return "password"
    if "enum" in prop:
        return "options"
    t = types[0] if types else "string"
    if t == "string" and prop.get("format") == "date-time":
        return "date_iso8601"
    kinds = {"integer": "integer", "number": "decimal", "boolean": "boolean", "array": "array"}
    return kinds.get(t, "object" if t == "object" else "string")


def settings(cls: Any) -> list[dict[str, Any]]:
    out = []
    for name, prop in cls.config_jsonschema["properties"].items():
        if name.startswith(SDK_PREFIXES):
            continue
        item: dict[str, Any] = {"name": name, "kind": _kind(prop)}
        if item["kind"] == "password":
            item["sensitive"] = True
        if "enum" in prop:
            item["options"] = [{"label": str(v), "value": v} for v in prop["enum"] if v is not None]
        item["description"] = prop.get("description", "")
        out.append(item)
    return out


def _yaml_scalar(v: Any) -> str:
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


def meltano_yaml(plugin: str, indent: int = 4) -> str:
    pad = " " * indent
    lines = [f"{pad}settings:"]
    for s in settings(plugin_classes()[plugin]):
        lines.append(f"{pad}- name: {s['name']}")
        lines.append(f"{pad}  kind: {s['kind']}")
        if s.get("sensitive"):
            lines.append(f"{pad}  sensitive: true")
        if "options" in s:
            lines.append(f"{pad}  options:")
            for o in s["options"]:
                label, value = _yaml_scalar(o["label"]), _yaml_scalar(o["value"])
                lines.append(f"{pad}  - {{label: {label}, value: {value}}}")
        lines.append(f"{pad}  description: {_yaml_scalar(s['description'])}")
    return "\n".join(lines)


def check_meltano() -> list[str]:
    """Differences between meltano.yml's plugin settings and the plugins' config schemas."""
    import yaml

    doc = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugins = {p["name"]: p for kind in doc["plugins"].values() for p in kind}
    problems = []
    for name, cls in plugin_classes().items():
        declared = {s["name"]: s for s in plugins.get(name, {}).get("settings", [])}
        for s in settings(cls):
            d = declared.pop(s["name"], None)
            if d is None:
                problems.append(f"{name}: setting {s['name']} missing from meltano.yml")
                continue
            for key in ("kind", "description"):
                if d.get(key) != s[key]:
                    problems.append(f"{name}.{s['name']}: {key} {d.get(key)!r} != {s[key]!r}")
            if bool(d.get("sensitive")) != bool(s.get("sensitive")):
                problems.append(f"{name}.{s['name']}: sensitive flag differs")
        problems.extend(f"{name}: meltano.yml declares unknown setting {n}" for n in declared)
    return problems


def write_meltano() -> None:
    """Rewrite each plugin's `settings:` block in meltano.yml from its config schema."""
    path = ROOT / "meltano.yml"
    lines = path.read_text().splitlines()
    for plugin in plugin_classes():
        start = lines.index(f"  - name: {plugin}")
        first = next(i for i in range(start + 1, len(lines)) if lines[i] == "    settings:")
        last = next(
            i
            for i in range(first + 1, len(lines))
            if not lines[i].startswith("    ") or lines[i].startswith("    config:")
        )
        lines[first:last] = meltano_yaml(plugin).splitlines()
    path.write_text("\n".join(lines) + "\n")


def readme(*, write: bool = True) -> bool:
    """Replace the text between `<!-- settings:NAME -->` markers with the plugin's table.

    Returns whether the README already held those tables; ``write=False`` only checks.
    """
    path = ROOT / "README.md"
    original = text = path.read_text()
    for plugin in plugin_classes():
        about = subprocess.run(
            [str(Path(sys.executable).parent / plugin), "--about", "--format=markdown"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        table = about.split("## Settings", 1)[1].split("\n\n", 2)[1].strip()
        sdk_row = re.compile(r"\| (?:" + "|".join(SDK_PREFIXES) + r")")
        rows = [r for r in table.splitlines() if not sdk_row.match(r)]
        begin, end = f"<!-- settings:{plugin} -->", f"<!-- /settings:{plugin} -->"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no {begin} ... {end} markers")
        block = begin + "\n" + "\n".join(rows) + "\n" + end
        text = pattern.sub(lambda _m, block=block: block, text)
    if write and text != original:
        path.write_text(text)
    return text == original


def main() -> int:
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "meltano":
        for plugin in plugin_classes():
            print(f"# {plugin}\n{meltano_yaml(plugin)}\n")
        return 0
    if cmd == "write-meltano":
        write_meltano()
        return 0
    if cmd == "check-meltano":
        problems = check_meltano()
        print("\n".join(problems) or "meltano.yml matches the plugins' settings")
        return 1 if problems else 0
    if cmd == "readme":
        readme()
        return 0
    if cmd == "check-readme":
        ok = readme(write=False)
        print("README settings tables are current" if ok else "README settings tables are stale")
        return 0 if ok else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
