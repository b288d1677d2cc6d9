/* 总览 charts: found vs fixed by month, open hazards by village and by category (ECharts, served locally). */
(function () {
  var el = document.getElementById("chart-data");
  if (!el || !window.echarts) { return; }
  var d = JSON.parse(el.textContent);
  function chart(id, option) {
    var node = document.getElementById(id);
    if (!node) { return; }
    var c = echarts.init(node);
    c.setOption(option);
    window.addEventListener("resize", function () { c.resize(); });
  }
  var grid = { left: 40, right: 16, top: 30, bottom: 60 };
  chart("trend", {
    tooltip: { trigger: "axis" }, legend: { data: ["发现", "整改"] }, grid: grid,
    xAxis: { type: "category", data: d.months }, yAxis: { type: "value", minInterval: 1 },
    series: [{ name: "发现", type: "line", data: d.found }, { name: "整改", type: "line", data: d.fixed }]
  });
  var rotate = { interval: 0, rotate: 40 };
  chart("villages", {
    tooltip: {}, grid: grid, xAxis: { type: "category", data: d.villages, axisLabel: rotate },
    yAxis: { type: "value", minInterval: 1 }, series: [{ name: "未整改", type: "bar", data: d.village_counts }]
  });
  chart("categories", {
    tooltip: {}, grid: grid, xAxis: { type: "category", data: d.categories, axisLabel: rotate },
    yAxis: { type: "value", minInterval: 1 }, series: [{ name: "未整改", type: "bar", data: d.category_counts }]
  });
})();
