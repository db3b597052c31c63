namespace KestrelDemo.Api;

/// <summary>One order of the <c>GET /json</c> report.</summary>
/// <param name="Id">The order number, from 1.</param>
/// <param name="Customer">Who placed it.</param>
/// <param name="Region">Where it ships.</param>
/// <param name="Items">How many items it holds.</param>
/// <param name="Amount">Its value, rounded to cents.</param>
public sealed record Order(int Id, string Customer, string Region, int Items, decimal Amount);
