"""A function tool written by hand: a typed Python function becomes a validated tool.

``function_tool`` builds the JSON schema from the signature and docstring; the client checks the model's
arguments against it before the function runs (bad arguments never reach it), sends the result back as
``function_call_output``, and asks for the next response by itself.
"""

from __future__ import annotations

from typing import Literal

from _common import ask, realtime_client, run, stream_transcripts

from agent_rt import function_tool

ROASTS = {"light": 0.92, "medium": 0.95, "dark": 0.98}


@function_tool
def coffee_ratio(cups: int, roast: Literal["light", "medium", "dark"] = "medium") -> dict[str, float]:
    """Grams of ground coffee and water for a number of cups.

    Args:
        cups: how many 250 ml cups to brew.
        roast: the roast level; darker roasts need slightly less coffee.
    """
    water = 250.0 * cups
    return {"cups": cups, "coffee_g": round(water / 16 * ROASTS[roast], 1), "water_ml": water}


SCENARIO = {
    "rules": [
        {
            "match": "3 cups",
            "calls": [{"name": "coffee_ratio", "arguments": {"cups": 3, "roast": "dark"}}],
            "after_output": "For {output.cups} cups use {output.coffee_g} g of coffee "
            "and {output.water_ml} ml.",
        }
    ]
}


async def main() -> None:
    async with realtime_client(SCENARIO, plugins=False) as client:
        await client.add_tool(coffee_ratio)
        print("schema sent to the model:", coffee_ratio.definition["parameters"])
        client.on("tool.call.started", lambda e: print(f"\n[tool] {e['name']}({e['arguments']})"))
        client.on("tool.call.finished", lambda e: print(f"[tool] ok={e['ok']} -> {e['output']}"))
        stream_transcripts(client)
        async with client:
            await ask(client, "How much coffee for 3 cups of dark roast?")


if __name__ == "__main__":
    run(main)
