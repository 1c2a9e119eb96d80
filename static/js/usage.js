"use strict";
// On a narrow screen the chart scrolls sideways: show its latest end first.
document.querySelectorAll(".chart-scroll").forEach((box) => { box.scrollLeft = box.scrollWidth; });
