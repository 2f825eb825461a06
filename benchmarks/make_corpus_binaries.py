# ruff: noqa: E501
"""Generate the binary and specially encoded files of the sample corpus.

Most of ``corpus/`` is plain UTF-8 text written by hand. This script writes the
files that cannot sensibly be edited as text:

* four multi-page PDFs (fpdf2, core Helvetica font, compressed, real text layer),
* four DOCX files (python-docx, Heading styles, tables; one in Chinese),
* three Chinese text files whose encoding matters and must be exact:
  GBK without BOM, UTF-16 with BOM, and UTF-8 with BOM.

The output is deterministic: fixed creation dates, fixed zip timestamps, so
re-running the script reproduces the same bytes.

Usage (from the repository root, with the dev extras installed):

    python benchmarks/make_corpus_binaries.py [--corpus corpus]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

FIXED_DATE = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
ZIP_DATE = (2024, 5, 1, 12, 0, 0)

# ---------------------------------------------------------------------------
# A tiny markup for the documents below
#
#   # Title            -> document title (Heading 1)
#   ## Section         -> Heading 2
#   ### Subsection     -> Heading 3
#   - item             -> bullet list (one item per line, "  " continues an item)
#   | a | b |          -> table row (the first row is the header)
#   [pagebreak]        -> explicit page break (PDF only)
#   anything else      -> paragraph; its lines are joined with a space (English)
#                         or with nothing (Chinese)
# Blocks are separated by blank lines.
# ---------------------------------------------------------------------------


@dataclass
class Block:
    kind: str  # "h1", "h2", "h3", "p", "ul", "table", "pagebreak"
    text: str = ""
    items: list[str] | None = None
    rows: list[list[str]] | None = None


def parse(markup: str, joiner: str = " ") -> list[Block]:
    blocks: list[Block] = []
    for raw in markup.strip().split("\n\n"):
        lines = [line.rstrip() for line in raw.strip("\n").splitlines()]
        if not lines:
            continue
        first = lines[0]
        if first == "[pagebreak]":
            blocks.append(Block("pagebreak"))
        elif first.startswith("### "):
            blocks.append(Block("h3", first[4:].strip()))
        elif first.startswith("## "):
            blocks.append(Block("h2", first[3:].strip()))
        elif first.startswith("# "):
            blocks.append(Block("h1", first[2:].strip()))
        elif first.startswith("- "):
            items: list[str] = []
            for line in lines:
                if line.startswith("- "):
                    items.append(line[2:].strip())
                else:
                    items[-1] += joiner + line.strip()
            blocks.append(Block("ul", items=items))
        elif first.startswith("|"):
            rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
            blocks.append(Block("table", rows=rows))
        else:
            blocks.append(Block("p", joiner.join(line.strip() for line in lines)))
    return blocks


# ---------------------------------------------------------------------------
# PDF documents (English only: the core Helvetica font covers Latin-1)
# ---------------------------------------------------------------------------

WEATHER_FRONTS = """
# Weather Fronts and How to Read a Forecast

Weather maps can look like a tangle of lines, triangles and half circles, but
they describe a small number of simple ideas. Most of the changeable weather of
the middle latitudes, from Western Europe to North America and East Asia, comes
from large bodies of air meeting along boundaries called fronts. Understanding
fronts, pressure systems and a few forecast terms makes any forecast far more
useful.

## Air masses

An air mass is a huge volume of air, often more than a thousand kilometres
across, whose temperature and humidity are roughly uniform because it formed
over a uniform surface. Meteorologists describe air masses by where they
formed. Maritime air formed over the sea and is moist; continental air formed
over land and is dry. Polar air is cold and tropical air is warm. A maritime
polar air mass, for example, brings cool, showery weather with good visibility,
while a continental tropical air mass brings hot, dry and often hazy
conditions.

When two air masses of different temperature meet, they do not mix easily.
Cold air is denser than warm air, so the boundary between them slopes, and the
lighter warm air is forced upward. Rising air cools, its water vapour condenses
into cloud, and if the lift continues, rain or snow follows. This is why fronts
are where much of the weather happens.

## Cold fronts

A cold front forms where colder air pushes into warmer air. The dense cold air
wedges underneath the warm air and lifts it sharply, so the frontal surface is
steep. The result is a narrow band of tall cumulus and cumulonimbus clouds with
heavy showers, gusty winds and sometimes thunderstorms, hail or squall lines.
The bad weather usually passes within an hour or two. Behind the front the
temperature and humidity drop, the wind changes direction, the air pressure
rises, and the sky often clears to bright, cool weather with scattered showers.

On a weather map a cold front is drawn as a blue line with triangles pointing in
the direction the front is moving.

## Warm fronts

A warm front forms where warm air advances over a retreating wedge of colder
air. The warm air slides gently up over the cold air along a shallow slope
that can extend hundreds of kilometres ahead of the front at the surface. For
that reason the approach of a warm front is announced long in advance by a
typical sequence of clouds:

- High, wispy cirrus clouds appear first, sometimes a day or more ahead.
- A milky veil of cirrostratus follows; it often produces a halo around the sun
  or moon.
- The cloud thickens and lowers into grey altostratus, through which the sun
  looks as if seen through frosted glass.
- Finally thick, low nimbostratus brings long periods of steady rain or snow.

After the warm front passes, the rain usually eases to drizzle or stops, the
temperature rises and the air feels humid. A warm front is drawn as a red line
with semicircles on the side toward which it moves.

## Occluded and stationary fronts

Cold fronts generally move faster than warm fronts. In a developing low
pressure system the cold front gradually catches up with the warm front and
lifts the warm air between them completely off the ground. The combined
boundary is an occluded front, drawn in purple with alternating triangles and
semicircles. Occlusion usually marks the mature stage of a depression, after
which it slowly fills and weakens.

When neither air mass is advancing, the boundary is called a stationary front
and is drawn with alternating blue triangles and red semicircles on opposite
sides of the line. A stationary front can sit over the same region for days,
bringing prolonged cloud and rain.

## Pressure, isobars and wind

Lines on a weather map that join places of equal air pressure are called
isobars. Pressure is measured in hectopascals (hPa), numerically the same as
millibars; average sea-level pressure is about 1013 hPa.

Low pressure areas, called depressions or cyclones, are regions where air is
rising. They bring cloud, wind and rain, and most fronts are attached to them.
High pressure areas, called anticyclones, are regions of sinking air. Sinking
air warms and dries, so highs bring settled weather: sunshine and light winds
in summer, and in winter often frost, fog or a lid of persistent grey low
cloud.

The closer together the isobars, the stronger the wind. Because of the
rotation of the Earth, air does not flow straight from high to low pressure
but is deflected, and away from the ground it blows nearly parallel to the
isobars. In the Northern Hemisphere winds circulate anticlockwise around lows
and clockwise around highs; in the Southern Hemisphere the directions are
reversed. A handy consequence, known as Buys Ballot's law, is that if you stand
with your back to the wind in the Northern Hemisphere, low pressure lies to
your left.

## Reading a forecast

### Chance of rain

A forecast of "40 percent chance of rain" is often misunderstood. In the
definition used by the United States National Weather Service, the probability
of precipitation is the chance that a given point in the forecast area will
receive measurable precipitation during the forecast period. It combines the
forecaster's confidence that rain will develop with how much of the area it is
expected to cover. It does not mean that it will rain for 40 percent of the day,
or over 40 percent of the area.

### Symbols and wording

Forecasters use words carefully. Showers fall from individual convective clouds
and come and go with sunny spells in between; rain falls from layered cloud and
tends to be more persistent. Words such as "isolated", "scattered" and
"widespread" describe how much of the area is affected. Wind speeds may be
given as a mean speed plus gusts, and the gusts are what bring down branches
and make walking on exposed ridges difficult.

### How far ahead can we trust forecasts?

Modern forecasts are produced by supercomputers that solve the equations of
fluid motion on a three-dimensional grid covering the whole globe, starting
from millions of observations made by weather stations, balloons, aircraft,
ships and satellites. Their skill has improved steadily, by roughly one day of
useful lead time per decade, so that a forecast for five days ahead is now
about as reliable as a forecast for three days ahead was a couple of decades
ago.

The atmosphere is a chaotic system, however. In the 1960s the meteorologist
Edward Lorenz showed that tiny differences in the starting conditions of a
weather model can grow into completely different forecasts, which puts a
fundamental limit on predictability. Forecast centres therefore run ensembles:
dozens of slightly different versions of the same forecast. When the members
agree, confidence is high; when they diverge, the forecast is uncertain, and a
good forecaster will say so. As a rule of thumb, the general pattern is
usually reliable for about a week, while the details, such as exactly where a
thunderstorm will form, may only be predictable a few hours ahead.

## Practical tips

- Look at the weather map, not only the symbol for your town; a front a few
  hundred kilometres away tells you what is coming.
- Watch the sky. Thickening high cloud after a fine spell often means a warm
  front and rain within a day.
- A rapidly falling barometer signals an approaching depression and stronger
  wind.
- For outdoor activities, check a specialist mountain or marine forecast, since
  conditions on summits and at sea can be far harsher than in nearby towns.
"""

BEEKEEPING = """
# Beekeeping for Beginners

Keeping honey bees is one of the most absorbing hobbies there is. A single hive
in a garden or on an allotment can produce honey and beeswax, improve
pollination of nearby fruit and vegetables, and offer a window into one of the
most complex societies in nature. It is also a real responsibility: a colony is
a living animal community that needs regular inspection and protection from
disease. This introduction covers the basics that a new beekeeper needs to
understand before the first colony arrives.

## The colony

A honey bee colony is a family of one queen, many thousands of female worker
bees, and, in spring and summer, a few hundred male bees called drones. A strong
colony may contain 40,000 to 60,000 bees at the height of summer and shrink to
around 10,000 over winter.

The queen is the mother of the whole colony. She mates early in life with a
number of drones during one or a few mating flights, stores the sperm, and then
spends the rest of her life laying eggs, up to about 2,000 a day at the peak of
the season. A queen typically lives for two to five years.

Workers do all the other jobs, and they change roles as they age. Young
workers clean cells, feed larvae, build wax comb and guard the entrance; older
workers become foragers that collect nectar, pollen, water and plant resins. A
worker born in summer lives only about five to six weeks, largely because
foraging wears her out, while workers born in autumn can live for several
months and carry the colony through winter.

Drones do not sting, collect food or build comb. Their only role is to mate
with queens from other colonies. In autumn, when food becomes scarce, workers
push the drones out of the hive.

The three castes develop from egg to adult in different times: about 16 days
for a queen, 21 days for a worker and 24 days for a drone. These numbers matter
in practice, for example when judging how long a colony has been without a
queen.

## The hive

Most modern hives follow the design patented by the American clergyman Lorenzo
Langstroth in 1852. His key insight was the bee space: a gap of roughly 6 to 9
millimetres that bees leave open as a passage. Smaller gaps get sealed with
resin, called propolis, and larger gaps get filled with comb. By building
frames with exactly that spacing, beekeepers could lift out individual combs
for inspection without tearing the nest apart.

A typical hive is a stack of boxes. The lower boxes, called brood boxes, hold
the nest where the queen lays. A flat grid called a queen excluder, with slots
that workers can pass through but the larger queen cannot, is often placed on
top, and above it go the honey supers where the bees store surplus honey.

## Equipment and safety

The essential equipment is a bee suit or jacket with a veil, gloves, a hive
tool for prising apart boxes and frames glued together with propolis, and a
smoker. Cool smoke puffed gently at the entrance and under the lid masks the
alarm pheromone that guard bees release and encourages bees to fill up on
honey, which makes them calmer.

Calm, slow movements prevent most stings. Work on warm, still days when many
foragers are out, and avoid opening a hive in cold, wet or thundery weather.
Most people experience only local pain and swelling from a sting. Signs of a
severe allergic reaction, such as difficulty breathing, swelling of the face or
throat, or dizziness, need emergency medical help at once. Anyone new to bees
should find out whether they, or family members, are allergic before starting.

## Inspections through the season

During the active season, inspect each colony every seven to ten days. On each
visit, ask a few questions:

- Is the queen present and laying? You do not need to see her; fresh eggs, which
  stand upright in the bottom of the cells like tiny grains of rice, prove she
  was there within the last three days.
- Is the brood pattern healthy? Capped brood should form a compact area with
  few empty cells, and cappings should be dry and slightly domed, not sunken or
  perforated.
- Do the bees have enough space and food?
- Are there queen cells, the large peanut-shaped cells hanging from the comb?
  They are a sign that the colony is preparing to swarm or to replace its queen.

Keep a simple record of every inspection. Notes about temper, stores and queen
cells make it much easier to spot changes.

## Swarming

Swarming is how honey bee colonies reproduce. When a colony becomes crowded in
late spring, the workers raise new queens, and shortly before the first one
emerges, the old queen leaves with a large share of the workers to find a new
home. The swarm often hangs as a cluster on a branch for a few hours while
scout bees search for a cavity. Swarming is natural, but it costs the
beekeeper most of the honey crop, and swarms can upset neighbours. Beekeepers
manage it by giving colonies enough room and by making an artificial swarm,
splitting the colony in a controlled way when queen cells are found.

## The varroa mite

The greatest threat to honey bees in most of the world is Varroa destructor,
a parasitic mite that feeds on developing and adult bees and spreads viruses,
especially deformed wing virus. Almost all colonies in regions where varroa
is present will collapse within a few years without control. Beekeepers
monitor mite levels regularly, for instance by counting mites that fall onto a
board under a mesh floor or by sampling a few hundred bees, and apply
treatments when levels exceed recommended thresholds. Approved treatments
include products based on oxalic acid, formic acid or thymol, used according to
the label. Combining monitoring, good husbandry and timely treatment is known
as integrated pest management.

## Honey

Foragers collect nectar, which is mostly water and sugars, and pass it to house
bees. The bees add enzymes that break sucrose into simpler sugars and fan the
nectar with their wings until its water content falls below about 20 percent.
Then they seal each cell with a wax capping. Honey should only be harvested
from capped frames; honey with too much water can ferment.

Always leave the colony enough food for winter. How much depends on the
climate and the size of the colony, and local beekeepers are the best guide;
in cold regions a colony may need well over 20 kilograms of stores.

## How bees share directions

Foragers that find a good source of food tell their sisters where it is with
the waggle dance, decoded by the Austrian scientist Karl von Frisch, who shared
the 1973 Nobel Prize in Physiology or Medicine for this work. On the vertical
comb, the angle of the waggling run relative to straight up shows the direction
of the food relative to the sun, and the duration of the waggle indicates the
distance.

## Getting started

Join a local beekeeping association before buying anything. Most offer
beginner courses, mentoring and the chance to handle bees under supervision.
Start with two colonies if possible, so that you can compare them and use one
to help the other. Check whether your country requires hives to be registered,
and site them where the bees' flight path will not cross a busy footpath or a
neighbour's patio.
"""

ROMAN_AQUEDUCTS = """
# Roman Aqueducts: Engineering Water for an Empire

Few ancient structures are as impressive as the arched bridges that carried
water across the valleys of the Roman world. Yet those famous arcades were only
a small part of the story. A Roman aqueduct was a complete water supply
system: a source, a long channel that sloped gently downhill, settling tanks,
distribution tanks and a network of pipes. Built over some five centuries, the
aqueducts of Rome supplied the city with water on a scale not matched again in
Europe for well over a thousand years.

## The first aqueducts of Rome

The first aqueduct of the city of Rome, the Aqua Appia, was built in 312 BC
under the censor Appius Claudius Caecus, the same official responsible for the
Appian Way. It ran for about 16 kilometres, almost entirely underground. Others
followed as the city grew. The Aqua Marcia, completed in the 140s BC, was the
longest of the city's aqueducts at about 91 kilometres and was famous for the
cold, clear quality of its water. The Aqua Virgo, opened by Marcus Agrippa in
19 BC, still feeds the Trevi Fountain today through its modern successor. By
the third century AD, eleven major aqueducts brought water into Rome.

Much of what we know about them comes from Sextus Julius Frontinus, who was
appointed water commissioner, curator aquarum, in AD 97. His treatise on the
aqueducts of Rome records their sources, lengths and capacities and complains
bitterly about fraud, such as illegal taps installed by landowners and
corrupt workers.

## Gravity does all the work

Roman aqueducts worked almost entirely by gravity. Water flowed in a covered
channel, the specus, lined with waterproof mortar, from a spring or river at a
higher elevation to the city below. The engineering challenge was to keep the
slope continuous and gentle over tens of kilometres of hilly country: too
steep, and fast water would scour the channel; too flat, and the water would
stagnate and deposit sediment.

The aqueduct that supplied the Roman city of Nemausus, modern Nîmes in
southern France, shows how precise this could be. It ran for about 50
kilometres and dropped only around 12 metres from source to city, an average
gradient of roughly 25 centimetres per kilometre, and in places far less.

To follow the contours, aqueducts wound around hillsides and along valley
sides, which is why they were often much longer than the straight-line
distance. Most of their length ran underground or at ground level, which
protected the water from heat, dirt and enemies. Tunnels were cut through
ridges, with vertical shafts at intervals for ventilation, removal of spoil and
later maintenance.

## Bridges and arcades

Where a valley was too deep to go around, engineers carried the channel across
on a bridge. The most famous is the Pont du Gard, part of the aqueduct of
Nîmes, built in the first century AD. It stands about 49 metres high in three
tiers of arches, and its large limestone blocks were laid without mortar. It
became a UNESCO World Heritage Site in 1985. In Spain, the aqueduct of Segovia,
probably built around the end of the first or beginning of the second century
AD, still stands in the middle of the city, its granite arches likewise held
together without mortar.

Near Rome itself, long arcades lifted the channels so that water arrived high
enough to be distributed across the city's hills. Several aqueducts were
sometimes stacked in separate channels on the same arches.

## Crossing valleys with pressure: inverted siphons

Where a valley was too deep or wide even for a bridge, Roman engineers
sometimes used an inverted siphon. Water entered a header tank on one side of
the valley, flowed down through a set of sealed lead pipes, across the valley
floor, and up to a slightly lower receiving tank on the other side, pushed by
the pressure of the water behind it. The aqueducts serving Lugdunum, modern
Lyon, included several such siphons. They demanded huge quantities of lead and
careful construction to withstand the pressure, so the Romans used them only
where there was no practical alternative.

## Surveying

Laying out a channel with such a small, steady fall required good surveying.
The architect Vitruvius, writing in the first century BC, describes the
chorobates, a long wooden table with plumb lines and a groove on top that could
be filled with water to check that it was level. Surveyors also used the groma
to lay out straight lines and right angles and the dioptra, a sighting
instrument, to measure angles and heights.

## Delivering the water

At the city end, water first passed through settling tanks, where sand and
silt could sink to the bottom. It then reached a distribution tank, the
castellum divisorium, which split the flow into pipes leading to different
districts. The circular distribution basin at Nîmes still survives, with the
holes for its outlet pipes visible in its walls.

The water served public fountains, where most people collected their water,
public baths, and the houses of the wealthy, who paid for a private
connection. Water ran continuously, and the overflow flushed the sewers. Pipes
were often made of lead, in Latin plumbum, which gives us the word plumbing.
Whether this caused widespread lead poisoning is debated; the hard water of
many sources quickly coated pipes with mineral deposits, and because water
flowed constantly it spent little time in contact with the metal.

## Maintenance and decline

Aqueducts needed constant care. Hard water left thick deposits of calcium
carbonate, called sinter, inside the channels, which had to be chipped away
regularly, and leaks, roots and collapses had to be repaired. Frontinus
describes a permanent workforce of hundreds of slaves dedicated to the task.

When Roman authority weakened, so did the maintenance. During the Gothic siege
of Rome in AD 537, the besiegers cut the aqueducts, and the city's population,
already much reduced, came to depend on the Tiber and on wells. A few channels
were repaired by the popes in later centuries, and some Roman routes were
rebuilt in the Renaissance to feed the fountains that still decorate Rome.

## Why they still matter

Roman aqueducts combined careful surveying, durable materials such as
hydraulic concrete, and sound administration. Their remains, from the Pont du
Gard to the arches of Segovia, are among the most visible reminders of how much
engineering a large city needs simply to have clean water.
"""

INDEX_FUNDS = """
# Index Funds Explained

An index fund is an investment fund that aims to match the performance of a
market index instead of trying to beat it. Over the past fifty years index
funds have grown from a curiosity mocked by much of the finance industry into
one of the most common ways for ordinary people to invest for the long term.
This guide explains what they are, why costs matter so much, and what risks
remain.

This document is general education, not personal financial advice. Investments
can fall as well as rise, and you may get back less than you invest.

## What is an index?

A market index is a list of securities, with rules for choosing them and for
weighting them, used to measure how a market is doing. The S&P 500 tracks 500
large companies listed in the United States. The FTSE 100 covers the hundred
largest companies on the London Stock Exchange, the Nikkei 225 covers major
Japanese companies, and the MSCI World index covers large and mid-sized
companies across many developed countries. There are bond indexes too, such as
indexes of government or corporate bonds.

Most stock indexes are weighted by market capitalisation: the company's share
price multiplied by the number of its shares. A company worth twice as much
makes up twice as large a share of the index. As prices move, the weights
adjust automatically, so a fund that tracks the index needs to trade relatively
little.

## Active and passive investing

An actively managed fund employs analysts and managers who pick the securities
they believe will do better than the market. A passive fund, or index fund,
simply holds the securities of its index in the same proportions. It does not
need to predict anything, and it needs far fewer people and much less trading,
so it can charge much lower fees.

The argument for indexing is partly arithmetic. Before costs, the average
actively managed dollar must earn the market return, because together all
investors own the market. After costs, the average active investor must
therefore trail the market by roughly the amount of the fees and trading
costs. Some active managers do beat the market in a given period, but it is
hard to identify them in advance, and studies such as S&P Dow Jones Indices'
regular SPIVA scorecards have repeatedly found that a large majority of active
funds in many categories underperform their benchmark index over periods of
ten to fifteen years.

## A brief history

The academic groundwork came from research in the 1960s and early 1970s showing
that most professional managers did not consistently outperform the market.
In 1975 John C. Bogle founded the Vanguard Group, and in 1976 it launched the
First Index Investment Trust, which tracked the S&P 500. It was the first index
mutual fund offered to ordinary individual investors. Critics called it
"Bogle's folly", and it initially raised only about 11 million dollars. The
fund, later renamed the Vanguard 500 Index Fund, eventually became one of the
largest funds in the world.

Exchange-traded funds, or ETFs, came later. An index fund listed in Toronto in
1990 is often cited as the first, and the SPDR S&P 500 ETF, launched in the
United States in 1993, became the best known. ETFs trade on a stock exchange
throughout the day like shares, while traditional mutual funds are bought and
sold once a day at a price calculated after the market closes.

## Why costs matter so much

The yearly cost of a fund is summarised by its expense ratio, also called the
ongoing charge: the percentage of your investment deducted each year to run the
fund. Broad index funds often charge less than 0.2 percent a year, and some
charge well under 0.1 percent, while many actively managed funds have
historically charged around 1 percent or more.

A difference of less than one percentage point sounds trivial, but it
compounds. Imagine investing 10,000 for 30 years in a market that returns 6
percent a year before costs:

| Annual cost | Net return | Value after 30 years |
| 0.0 percent | 6.0 percent | about 57,400 |
| 0.1 percent | 5.9 percent | about 55,800 |
| 1.0 percent | 5.0 percent | about 43,200 |

In this example the 1 percent fee consumes roughly a quarter of the final
value, and the investor bears all of the market risk to earn it. Fees are one
of the few things about investing that you can control with certainty.

## What can go wrong

Index funds remove the risk of picking the wrong manager, but not the risk of
the market itself. A fund that tracks the S&P 500 fell by more than half from
its peak in 2007 to its low in early 2009, and it took years to recover.
Anyone who might need their money within a few years should not rely on stocks
for it, whether through an index fund or otherwise.

Other points to understand:

- Concentration. Because of market-cap weighting, a handful of very large
  companies can make up a big share of an index. A "broad" fund may be less
  diversified than it appears.
- Home bias. An index of one country ties your fortunes to one economy.
  Global indexes spread risk across many markets and currencies.
- Tracking difference. Costs, cash holdings and sampling mean that a fund's
  return differs slightly from its index. Compare funds on this as well as on
  the headline fee.
- Narrow and exotic indexes. Funds that track a single sector, a theme or a
  leveraged version of an index behave very differently from a broad market
  fund, and leveraged funds are generally designed for short-term trading.

## Using index funds sensibly

Many long-term investors build a simple portfolio from just a few broad funds:
for instance a global stock index fund combined with a bond index fund, in a
proportion that reflects how much risk they can tolerate and when they will
need the money. Investing a fixed amount at regular intervals, often called
dollar-cost averaging or pound-cost averaging, removes the temptation to time
the market and turns volatility into an opportunity to buy more units when
prices are low.

Once a year or so, rebalancing brings the mix back to its target: selling a
little of what has grown and buying what has lagged. Above all, the strategy
depends on patience. The investors who do worst with index funds are usually
those who sell in a panic after a fall and buy back after prices have already
recovered.

## Key terms

- Expense ratio or ongoing charge: the yearly fee, as a percentage of assets.
- ETF: an exchange-traded fund, bought and sold on a stock exchange.
- Market capitalisation: a company's total stock market value.
- Rebalancing: restoring a portfolio to its target mix of assets.
- Diversification: spreading money across many investments so that no single
  failure does serious damage.
"""

PDF_DOCS = {
    "science/weather_fronts.pdf": ("Weather Fronts and How to Read a Forecast", WEATHER_FRONTS),
    "outdoors/beekeeping.pdf": ("Beekeeping for Beginners", BEEKEEPING),
    "history/roman_aqueducts.pdf": ("Roman Aqueducts", ROMAN_AQUEDUCTS),
    "finance/index_funds.pdf": ("Index Funds Explained", INDEX_FUNDS),
}


def write_pdf(path: Path, title: str, markup: str) -> int:
    """Render ``markup`` to a PDF at ``path``; returns the number of pages."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    class Doc(FPDF):
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", "I", 8)
            self.set_text_color(120)
            self.cell(0, 10, f"{title} - page {self.page_no()}", align="C")
            self.set_text_color(0)

    pdf = Doc(format="A4")
    pdf.set_compression(True)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(title)
    pdf.set_author("semsearch sample corpus")
    pdf.set_creator("benchmarks/make_corpus_binaries.py")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()

    def para(text: str, size: float = 11, style: str = "", height: float = 5.6) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    for block in parse(markup):
        text = block.text
        for s in [text, *(block.items or []), *(c for r in block.rows or [] for c in r)]:
            s.encode("latin-1")  # the core fonts only cover Latin-1
        if block.kind == "h1":
            para(text, 20, "B", 9)
            pdf.ln(4)
        elif block.kind == "h2":
            pdf.ln(3)
            para(text, 14, "B", 7)
            pdf.ln(1)
        elif block.kind == "h3":
            pdf.ln(1)
            para(text, 12, "B", 6)
        elif block.kind == "p":
            para(text)
            pdf.ln(2.5)
        elif block.kind == "ul":
            pdf.set_font("Helvetica", "", 11)
            for item in block.items or []:
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(0, 5.6, "-  " + item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(0.8)
            pdf.ln(2)
        elif block.kind == "table":
            pdf.set_font("Helvetica", "", 10)
            with pdf.table(text_align="LEFT", line_height=6) as table:
                for row in block.rows or []:
                    cells = table.row()
                    for cell in row:
                        cells.cell(cell)
            pdf.ln(3)
        elif block.kind == "pagebreak":
            pdf.add_page()
    pdf.output(str(path))
    return pdf.page_no()


# ---------------------------------------------------------------------------
# DOCX documents
# ---------------------------------------------------------------------------

PERIODIC_TABLE = """
# The Periodic Table: Groups and Families

The periodic table arranges the chemical elements in order of increasing atomic
number, the number of protons in the nucleus, so that elements with similar
chemical behaviour fall into the same vertical column. Those columns are called
groups, and the horizontal rows are called periods. The table is one of the
most useful tools in science because an element's position tells a chemist a
great deal about how it will react before any experiment is done.

## A brief history

Several nineteenth-century chemists noticed that properties of the elements
recur at regular intervals. The Russian chemist Dmitri Mendeleev published his
table in 1869, and what made it convincing was its boldness: he left gaps for
elements that had not yet been discovered and predicted their properties.
Gallium, scandium and germanium were found within about two decades and matched
his predictions remarkably well. Later, the work of Henry Moseley showed that
atomic number, not atomic mass, is the true ordering principle.

Today the table contains 118 confirmed elements arranged in seven periods. The
most recent additions, nihonium, moscovium, tennessine and oganesson, received
their names in 2016.

## Why groups behave alike

Chemical behaviour depends mainly on the electrons in an atom's outermost shell,
the valence electrons. Elements in the same group have the same arrangement of
valence electrons, so they tend to form similar compounds. The modern table
numbers the groups from 1 to 18.

## The main groups

| Group | Family name | Examples | Typical properties |
| 1 | Alkali metals | Lithium, sodium, potassium | Soft, shiny metals with one valence electron; react vigorously with water to form hydrogen and alkaline solutions. |
| 2 | Alkaline earth metals | Magnesium, calcium, barium | Two valence electrons; reactive, but less so than the alkali metals. |
| 3 to 12 | Transition metals | Iron, copper, silver, gold | Hard, dense metals that often form coloured compounds and act as catalysts. |
| 15 | Pnictogens | Nitrogen, phosphorus, arsenic | Five valence electrons; include both essential nutrients and toxic elements. |
| 16 | Chalcogens | Oxygen, sulfur, selenium | Six valence electrons; form oxides and sulfides with many elements. |
| 17 | Halogens | Fluorine, chlorine, bromine, iodine | Seven valence electrons; very reactive non-metals that form salts with metals. |
| 18 | Noble gases | Helium, neon, argon, xenon | Full outer shells; very unreactive, used in lighting and as protective atmospheres. |

Hydrogen sits at the top of group 1 because it has one electron, but it is a gas
and is not considered an alkali metal. The name halogen comes from Greek words
meaning salt former, a reference to compounds such as sodium chloride, common
table salt.

## Lanthanides and actinides

The two rows usually printed below the main table are the lanthanides and the
actinides, together known as the f-block. They are placed separately only to
keep the table a convenient width. The lanthanides include neodymium, used in
strong permanent magnets; the actinides include uranium and plutonium, and all
actinides are radioactive.

## Trends across the table

- Atomic radius generally decreases from left to right across a period, because
  the growing nuclear charge pulls the electrons closer, and increases down a
  group as new shells are added.
- Ionisation energy, the energy needed to remove an electron, generally rises
  across a period and falls down a group.
- Electronegativity, the pull an atom exerts on shared electrons, increases
  toward the upper right of the table. Fluorine is the most electronegative
  element.
- Metallic character increases toward the lower left. A staircase-shaped band
  of metalloids such as silicon and germanium separates metals from non-metals.
"""

CAMPING = """
# Car Camping: Gear Checklist and Campsite Tips

Car camping, where you drive to a campsite and pitch a tent beside the car, is
the easiest way into sleeping outdoors. Weight hardly matters, so comfort is
affordable, but a forgotten tent pole or a cold night on thin foam can still
spoil a trip. This checklist and the tips that follow are meant to make the
first few trips smooth.

## Gear checklist

| Category | Item | Notes |
| Shelter | Tent with poles, pegs and guy lines | Pitch it once at home to check that nothing is missing. |
| Shelter | Groundsheet or footprint | Slightly smaller than the tent floor so rain does not collect on it. |
| Sleeping | Sleeping bag | Choose by its comfort temperature rating, not the extreme rating. |
| Sleeping | Sleeping pad or air mattress | Insulation from the ground matters more than the bag; look at the R-value. |
| Kitchen | Stove, fuel and lighter | Test the stove before leaving and bring a spare lighter. |
| Kitchen | Pot, pan, utensils, biodegradable soap | A washing-up bowl keeps soapy water away from streams. |
| Kitchen | Cool box and food storage containers | Keep raw meat sealed and at the bottom. |
| Light | Headlamp and lantern, spare batteries | A headlamp leaves both hands free. |
| Clothing | Warm layer, waterproof jacket, hat | Nights are colder than you expect, even in summer. |
| Safety | First aid kit, map, charged phone | Note the nearest hospital and the campsite address. |

## Choosing and setting up a pitch

Arrive with a few hours of daylight left. Pick flat, durable ground that is free
of stones and roots, and look up for dead branches that could fall in wind.
Avoid hollows where cold air and rainwater collect, and never camp in a dry
stream bed. Pitch the tent with the narrow, low end toward the wind, and peg it
out fully so that the fabric is taut and sheds rain.

## Sleeping warm

Most cold nights are caused by the ground, not the air. The ground conducts
heat away from your body much faster than air does, and your weight compresses
the insulation of a sleeping bag underneath you. A well-insulated pad, rated by
its R-value, solves this; higher numbers insulate better. Eat a snack before
bed, wear a dry hat and clean socks, and go to the toilet before getting into
the bag, because your body spends energy keeping a full bladder warm.

Never use a stove, barbecue, charcoal or gas heater inside a tent or a closed
car to keep warm. They produce carbon monoxide, a colourless, odourless gas
that kills campers every year.

## Campfires

Use existing fire rings where fires are allowed, and check local fire
restrictions, which can change daily in dry weather. Keep fires small, never
leave one unattended, and put it out completely with water, stirring the ashes
until they are cool to the touch.

## Leave No Trace

The widely taught Leave No Trace principles summarise good campsite manners:

- Plan ahead and prepare.
- Travel and camp on durable surfaces.
- Dispose of waste properly: pack out all rubbish.
- Leave what you find.
- Minimise campfire impacts.
- Respect wildlife: store food securely and never feed animals.
- Be considerate of other visitors, especially about noise after dark.
"""

HTTP_STATUS = """
# HTTP Status Codes: A Developer's Reference

Every response a web server sends starts with a three-digit status code that
tells the client what happened to its request. Browsers, API clients, caches
and search engine crawlers all make decisions based on it, so choosing the
right code is part of designing an API. The meaning of each code is defined
by the HTTP standards, most recently collected in RFC 9110, HTTP Semantics,
published in 2022.

## The five classes

The first digit gives the class of the response:

- 1xx Informational: the request was received and processing continues.
- 2xx Success: the request was received, understood and accepted.
- 3xx Redirection: the client must take further action, usually by following a
  new URL.
- 4xx Client error: the request contains an error, such as bad syntax, missing
  authentication or a resource that does not exist.
- 5xx Server error: the server failed to fulfil a valid request.

A client that does not recognise a specific code must treat it like the x00
code of its class, so an unknown 4xx is handled as 400 Bad Request.

## Common status codes

| Code | Name | When it is used |
| 200 | OK | The request succeeded; the body contains the result. |
| 201 | Created | A new resource was created, typically by POST; the Location header gives its URL. |
| 204 | No Content | Success with nothing to return, common for DELETE. |
| 301 | Moved Permanently | The resource has a new permanent URL; clients and search engines should update links. |
| 302 | Found | A temporary redirect. |
| 304 | Not Modified | The cached copy is still valid; sent in reply to a conditional request. |
| 307 | Temporary Redirect | Like 302, but the client must repeat the same method and body. |
| 308 | Permanent Redirect | Like 301, but the method and body must not change. |
| 400 | Bad Request | The request is malformed, for example invalid JSON. |
| 401 | Unauthorized | Authentication is missing or invalid; despite the name, it means unauthenticated. |
| 403 | Forbidden | The client is known but not allowed to do this. |
| 404 | Not Found | The server has no resource at this URL. |
| 405 | Method Not Allowed | The URL exists but does not support this method. |
| 409 | Conflict | The request conflicts with the current state, such as an edit based on an old version. |
| 410 | Gone | The resource existed but was removed on purpose and will not return. |
| 422 | Unprocessable Content | The syntax is fine but the content fails validation. |
| 429 | Too Many Requests | The client is being rate limited; a Retry-After header may say when to try again. |
| 500 | Internal Server Error | An unexpected failure on the server, often an unhandled exception. |
| 502 | Bad Gateway | A proxy or gateway received an invalid response from the server behind it. |
| 503 | Service Unavailable | The server is overloaded or down for maintenance; usually temporary. |
| 504 | Gateway Timeout | A proxy or gateway did not get a response in time from the server behind it. |

## Page not found: 404 and 410

When someone follows a broken link or types a web address that does not exist,
the server answers 404 Not Found. It says nothing about whether the page ever
existed or might exist later. If content was deliberately and permanently
removed, 410 Gone is more precise, and search engines tend to drop such URLs
from their index faster. A good 404 page still helps the visitor, for example
with a search box and links to the main sections, but it must be served with
the 404 status code: returning 200 OK with an error message, a so-called soft
404, confuses caches and crawlers.

## 401 versus 403

The names are confusing. 401 Unauthorized really means not authenticated: the
server does not know who you are, and the response includes a WWW-Authenticate
header describing how to log in. 403 Forbidden means the server knows who you
are, or does not care, and still refuses. Some APIs deliberately answer 404
instead of 403 so as not to reveal that a private resource exists.

## Retrying safely

Errors in the 5xx range and 429 are often temporary, so clients may retry them
with exponential backoff, respecting any Retry-After header. Most 4xx errors
will fail again in exactly the same way until the request is changed, so
retrying them is pointless. Only retry automatically when the request is
idempotent, such as GET, PUT or DELETE, or when the API provides an idempotency
key, so that a retried payment is not charged twice.

## A joke that became a code

418 I'm a teapot comes from an April Fools' Day specification published in 1998
for the Hyper Text Coffee Pot Control Protocol. It was never part of real HTTP,
but it is so well loved that many frameworks support it and the code number has
been reserved so that it will not be reused.
"""

GO_GAME_ZH = """
# 围棋：黑白之间的智慧

围棋是一种两人对弈的策略棋类游戏，起源于中国，古代称为“弈”，至今已有数千年历史。它规则简单，变化却极其复杂，被认为是世界上最古老、最深奥的棋类之一。围棋与琴、书、画并称为中国古代文人的“四艺”。

## 历史渊源

先秦文献中已有关于弈的记载。《左传》中有以下棋比喻政事的说法，《论语》中也有“不有博弈者乎”的句子。早期的棋盘有十七路，后来逐渐发展为今天通行的十九路。大约在隋唐时期，围棋传入日本，后来在日本和韩国都得到了很大发展，并形成了职业棋手制度。

## 基本规则

围棋棋盘由纵横各十九条线组成，共有三百六十一个交叉点。对局双方分别执黑子和白子，黑方先行，双方轮流把棋子下在交叉点上，棋子落下后不再移动。

一个棋子在棋盘上直线相邻的空交叉点叫作它的“气”。当一方的棋子或相连的一块棋的所有气都被对方堵住时，这些棋子就被提出棋盘，称为“提子”。

为了防止双方无限循环地互相提子，规则规定：一方提子后，另一方不能立即在同一位置提回，必须先在别处走一步，这就是“打劫”。

对局结束时，占据地盘多的一方获胜。由于黑方先行占有优势，终局计算时黑方需要贴还一定数量的子或目。按照中国规则，采用数子法，黑方贴三又四分之三子；日本和韩国规则采用数目法，一般贴六目半。

## 常用术语

| 术语 | 含义 |
| 气 | 棋子在棋盘上直线相邻的空交叉点。 |
| 提子 | 把没有气的棋子从棋盘上拿掉。 |
| 眼 | 被己方棋子围住的空点，对方不能下入。 |
| 活棋 | 有两个或两个以上真眼的棋，不会被提掉。 |
| 打劫 | 双方可以反复提取一子的局面，需要隔一手才能提回。 |
| 定式 | 在布局阶段角部经过长期实践形成的标准下法。 |
| 手筋 | 局部战斗中巧妙而有力的一手棋。 |
| 目 | 计算地盘大小的单位，一个空交叉点为一目。 |

## 对局的三个阶段

一盘棋通常分为布局、中盘和官子三个阶段。布局阶段双方抢占要点，俗话说“金角银边草肚皮”，意思是在角上最容易围成地盘，其次是边，中腹最难。中盘阶段双方展开激烈的攻防战斗，胜负往往在这里决定。官子阶段则是在大局已定时，精确地收束双方的边界，每一目都可能影响胜负。

## 围棋与人工智能

由于围棋的变化数量远远超过国际象棋，人们曾经认为计算机很难在围棋上战胜人类顶尖棋手。2016年3月，谷歌旗下DeepMind公司开发的程序AlphaGo以四比一战胜了韩国棋手李世石。2017年5月，AlphaGo又在浙江乌镇以三比零战胜了当时世界排名第一的中国棋手柯洁。此后，人工智能成为职业棋手研究棋局的重要工具，也改变了许多传统的下法。

## 学棋的好处

围棋能够锻炼计算能力、全局观念和耐心。初学者可以先在九路或十三路的小棋盘上练习，熟悉吃子和做活的基本方法，再过渡到十九路棋盘。下棋讲究“落子无悔”，胜负之外，更重要的是享受思考的乐趣！
"""

DOCX_DOCS = {
    "science/periodic_table_groups.docx": (
        "The Periodic Table: Groups and Families",
        PERIODIC_TABLE,
        " ",
    ),
    "outdoors/camping_gear.docx": ("Car Camping: Gear Checklist and Campsite Tips", CAMPING, " "),
    "tech/http_status_codes.docx": ("HTTP Status Codes: A Developer's Reference", HTTP_STATUS, " "),
    "zh/go_game.docx": ("围棋：黑白之间的智慧", GO_GAME_ZH, ""),
}


def write_docx(path: Path, title: str, markup: str, joiner: str) -> None:
    from docx import Document
    from docx.oxml.ns import qn

    doc = Document()
    props = doc.core_properties
    props.title = title
    props.author = "semsearch sample corpus"
    props.last_modified_by = "benchmarks/make_corpus_binaries.py"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1

    if joiner == "":  # Chinese: give Word an East Asian font for the text
        for style_name in ("Normal", "Heading 1", "Heading 2", "Heading 3"):
            rpr = doc.styles[style_name].element.get_or_add_rPr()
            rpr.get_or_add_rFonts().set(qn("w:eastAsia"), "SimSun")

    for block in parse(markup, joiner):
        if block.kind in ("h1", "h2", "h3"):
            doc.add_heading(block.text, level=int(block.kind[1]))
        elif block.kind == "p":
            doc.add_paragraph(block.text)
        elif block.kind == "ul":
            for item in block.items or []:
                doc.add_paragraph(item, style="List Bullet")
        elif block.kind == "table":
            rows = block.rows or []
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = value
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
            doc.add_paragraph()

    buffer = io.BytesIO()
    doc.save(buffer)
    path.write_bytes(_normalise_zip(buffer.getvalue()))


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed timestamps so the output is reproducible."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# ---------------------------------------------------------------------------
# Chinese text files with exact encodings
# ---------------------------------------------------------------------------

TAIJI_GBK = """太极拳简介

太极拳是中国传统武术中流传最广的拳种之一。它以中国古代哲学中的太极、阴阳学说为理论基础，动作柔和缓慢、连绵不断，讲究以柔克刚、以静制动。2020年12月，太极拳被列入联合国教科文组织人类非物质文化遗产代表作名录。

一、起源

关于太极拳的起源，历史上有多种说法。民间长期流传着武当山道士张三丰创拳的传说，但缺乏可靠的史料依据。目前学术界较为普遍的看法是，太极拳形成于明末清初，河南温县陈家沟的陈王廷在家传拳法的基础上，吸收各家武艺，并结合导引、吐纳之术，创编了早期的太极拳套路。

二、主要流派

经过几百年的传承和发展，太极拳形成了多个各具特色的流派，其中影响最大的是以下五个。

陈式太极拳：最古老的流派，发源于陈家沟，动作刚柔相济，快慢相间，有发力和跳跃动作。

杨式太极拳：由河北永年人杨露禅在陈家沟学拳后创立。后经其孙杨澄甫定型，架势舒展大方，速度均匀，是目前练习人数最多的流派。

武式太极拳：由河北永年人武禹襄创立，架势紧凑，动作小巧，注重内劲的虚实转换。

吴式太极拳：由全佑及其子吴鉴泉发展而成，动作轻松柔和，架势以斜中寓正为特点。

孙式太极拳：由孙禄堂融合形意拳、八卦掌的特点创立，进退相随，步法灵活，因此又称为“开合活步太极拳”。

此外，河南温县赵堡镇一带流传的和式太极拳，也有很长的历史。

三、简化太极拳

为了让更多人学习太极拳，1956年，原国家体育运动委员会组织专家以杨式太极拳为基础，删繁就简，编成了“二十四式简化太极拳”。这套拳动作规范，由浅入深，练习一遍大约需要四到六分钟，很快在全国推广开来，也成为海外爱好者最熟悉的入门套路。后来又陆续编写了四十二式太极拳竞赛套路等规定套路。

四、练习要领

太极拳对身体姿势有一些基本要求，前人总结为“虚灵顶劲、含胸拔背、沉肩坠肘、松腰敛臀”等要领。练习时要做到心静体松，以意念引导动作，呼吸自然，上下相随，动作如行云流水，连绵不断。

除了单人练习的套路，太极拳还有两人配合练习的“推手”。推手讲究“沾连粘随”，通过感觉对方的力量来化解和借力，是体会太极拳技击原理的重要方法。

五、太极拳与健康

太极拳强度较低，不受场地限制，男女老少都可以练习。不少科学研究表明，坚持练习太极拳有助于改善平衡能力和下肢力量，可以降低老年人跌倒的风险，对缓解压力、改善情绪也有一定帮助。

需要说明的是，太极拳是一种健身运动，不能代替医疗。患有关节疾病、心血管疾病等慢性病的人，开始练习前最好咨询医生，并在有经验的老师指导下循序渐进，注意膝关节不要过度弯曲和扭转。

每天清晨，在中国各地的公园和广场上，都能看到人们伴着舒缓的音乐打太极拳。这项古老的运动，如今已经传播到世界上一百多个国家和地区！
"""

SICHUAN_UTF16 = """川菜：一菜一格，百菜百味

川菜是中国八大菜系之一，发源于四川和重庆一带。八大菜系通常指鲁菜、川菜、粤菜、苏菜、闽菜、浙菜、湘菜和徽菜。川菜以取材广泛、调味多变而著称，在国内外都拥有大量爱好者，人们常用“一菜一格，百菜百味”来形容它的特点。

一、不只是辣

很多人以为川菜就是辣，其实川菜最突出的本领是调味。川菜常用的复合味型有二十多种，例如麻辣味、鱼香味、怪味、红油味、椒麻味、家常味、糖醋味、荔枝味等，其中也有许多并不辣的菜。一桌地道的川菜宴席，往往有麻有辣，也有清淡鲜美的汤菜，讲究味道之间的搭配和变化。

二、三种灵魂调料

花椒是中国原产的香料，在四川有着悠久的食用历史。花椒带来的“麻”并不是一种味道，而是一种让嘴唇和舌头发麻、微微震颤的感觉，与辣椒的“辣”结合，就形成了川菜标志性的“麻辣”。

辣椒原产于美洲，大约在明朝末年传入中国，到了清代才在四川等地被广泛食用。换句话说，今天川菜中不可缺少的辣味，历史其实只有几百年。

郫县豆瓣产于成都郫都区，用蚕豆和辣椒经过长时间发酵制成，颜色红亮，酱香浓郁，被称为“川菜之魂”。此外，四川泡菜、泡辣椒、保宁醋和自贡井盐，也都是川菜厨房中的常见调料。

三、经典名菜

麻婆豆腐：相传清代同治年间，成都北郊万福桥边一位姓陈的妇人脸上有麻点，人称陈麻婆，她用豆腐、牛肉末、豆瓣和花椒烧制的豆腐麻辣鲜香，因此得名。一份好的麻婆豆腐讲究“麻、辣、烫、香、酥、嫩、鲜、活”。

宫保鸡丁：这道菜与清代四川总督丁宝桢有关。丁宝桢被朝廷追赠“太子太保”，人们尊称他为“丁宫保”，他喜爱的这道用鸡丁、干辣椒和花生米炒成的菜，就被称为宫保鸡丁。它属于糊辣荔枝味，甜酸中带着微辣。

鱼香肉丝：菜里其实没有鱼。“鱼香”是一种味型，来自四川民间烹鱼时使用的泡辣椒、葱、姜、蒜、糖和醋，用这些调料炒肉丝，就有了类似烧鱼的香味。

回锅肉：被许多四川人称为“川菜之首”。先把猪肉煮熟切片，再下锅与豆瓣、蒜苗同炒，“回锅”的名字就是这么来的。

夫妻肺片：二十世纪三十年代，成都一对夫妻以卖凉拌牛杂为生，他们的拌菜麻辣鲜香，人们便把这道菜叫作“夫妻肺片”。

四、火锅与小吃

重庆火锅起源于长江边的码头，船工和纤夫用价格便宜的牛杂在麻辣汤中涮煮，后来逐渐发展成风靡全国的美食。牛油红汤、毛肚、鸭肠和黄喉是重庆火锅的经典搭配。成都的小吃同样丰富，担担面、龙抄手、钟水饺、赖汤圆都很有名。

五、美食之都

2010年，成都被联合国教科文组织授予“美食之都”称号，是亚洲第一个获得这一称号的城市。如果你去成都，除了品尝川菜，也别忘了到茶馆里坐一坐，感受一下当地悠闲的生活节奏！
"""

SOLAR_TERMS_BOM = """# 二十四节气：古人的时间智慧

二十四节气是中国古人通过观察太阳周年运动而总结出的时间知识体系，用来指导农业生产和日常生活。2016年11月，“二十四节气——中国人通过观察太阳周年运动而形成的时间知识体系及其实践”被列入联合国教科文组织人类非物质文化遗产代表作名录。

## 节气是怎样划分的

人们常以为节气属于农历，其实节气是根据太阳的位置确定的，本质上属于阳历。古人把太阳在一年中沿黄道运行的一周分为二十四等份，太阳黄经每移动十五度就是一个节气。春分时太阳黄经为零度，清明为十五度，依此类推，立春则位于三百一十五度。

正因为节气依据太阳运动，它们在公历中的日期相当固定，每月大约有两个节气。上半年的节气多在每月六日和二十一日前后，下半年多在八日和二十三日前后。民间有“上半年来六廿一，下半年是八廿三”的说法。

二十四节气的完整名称，最早完整地见于西汉时期的《淮南子·天文训》。

## 节气歌

为了方便记忆，民间流传着一首节气歌：

春雨惊春清谷天，夏满芒夏暑相连。
秋处露秋寒霜降，冬雪雪冬小大寒。

## 二十四节气一览

| 季节 | 节气与公历大致日期 |
| --- | --- |
| 春季 | 立春（2月4日前后）、雨水（2月19日前后）、惊蛰（3月6日前后）、春分（3月21日前后）、清明（4月5日前后）、谷雨（4月20日前后） |
| 夏季 | 立夏（5月6日前后）、小满（5月21日前后）、芒种（6月6日前后）、夏至（6月21日前后）、小暑（7月7日前后）、大暑（7月23日前后） |
| 秋季 | 立秋（8月8日前后）、处暑（8月23日前后）、白露（9月8日前后）、秋分（9月23日前后）、寒露（10月8日前后）、霜降（10月23日前后） |
| 冬季 | 立冬（11月7日前后）、小雪（11月22日前后）、大雪（12月7日前后）、冬至（12月22日前后）、小寒（1月6日前后）、大寒（1月20日前后） |

## 节气的含义

节气的名称反映了季节、气候和物候的变化。

“四立”即立春、立夏、立秋、立冬，表示四季的开始。

“二分二至”即春分、秋分、夏至、冬至，反映了太阳高度和昼夜长短的变化。春分和秋分这两天，全球大部分地区昼夜几乎等长；在北半球，夏至白天最长，冬至白天最短。

雨水、谷雨、小雪、大雪等反映降水情况；小暑、大暑、处暑、小寒、大寒反映温度变化；白露、寒露、霜降反映水汽凝结的现象；惊蛰、清明、小满、芒种则与物候和农事有关。惊蛰意味着春雷始鸣，蛰伏的昆虫开始苏醒；芒种是有芒的麦子成熟、稻谷播种的繁忙时节。

## 节气与民俗

许多节气都伴随着丰富的民俗活动。立春有“咬春”吃春饼的习俗；清明既是节气，也是祭祖扫墓、踏青郊游的传统节日；夏至在一些地方有吃面的习惯；立秋有“贴秋膘”的说法；冬至被古人视为重要的节日，北方有吃饺子、南方有吃汤圆的习俗。

需要注意的是，二十四节气是以黄河流域的气候和物候为基础总结出来的。中国幅员辽阔，各地气候差异很大，所以在华南或东北，节气所描述的景象和当地的实际情况并不完全一致。

今天，虽然农业生产已经可以依靠现代天气预报，二十四节气仍然是中国人感知季节、安排生活的重要文化符号。
"""

ENCODED_TEXTS = {
    # path: (text, codec, bom)
    "zh/taiji_gbk.txt": (TAIJI_GBK, "gbk", b""),
    "zh/sichuan_cuisine_utf16.txt": (SICHUAN_UTF16, "utf-16-le", b"\xff\xfe"),
    "zh/solar_terms_bom.md": (SOLAR_TERMS_BOM, "utf-8", b"\xef\xbb\xbf"),
}


def write_encoded(path: Path, text: str, codec: str, bom: bytes) -> None:
    path.write_bytes(bom + text.encode(codec))


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent.parent / "corpus"
    parser.add_argument("--corpus", type=Path, default=default, help="corpus directory")
    args = parser.parse_args(argv)
    root: Path = args.corpus

    def target(rel: str) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    for rel, (title, markup) in PDF_DOCS.items():
        pages = write_pdf(target(rel), title, markup)
        if pages < 2:
            raise SystemExit(f"{rel}: expected at least 2 pages, got {pages}")
        print(f"{rel}: {pages} pages, {target(rel).stat().st_size} bytes")
    for rel, (title, markup, joiner) in DOCX_DOCS.items():
        write_docx(target(rel), title, markup, joiner)
        print(f"{rel}: {target(rel).stat().st_size} bytes")
    for rel, (text, codec, bom) in ENCODED_TEXTS.items():
        write_encoded(target(rel), text, codec, bom)
        print(f"{rel}: {codec}{' with BOM' if bom else ''}, {target(rel).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
